// Deletion pages: the confirm button wakes up once the name is typed back exactly (the server
// checks it again), and a deletion's progress is refreshed from its JSON until it ends.
(function () {
  "use strict";

  document.querySelectorAll("form.delete-form[data-confirm-name]").forEach(function (form) {
    var input = form.querySelector("input[name=confirm]");
    var button = form.querySelector("button[type=submit]");
    var expected = form.getAttribute("data-confirm-name");
    function check() { button.disabled = input.value.trim() !== expected; }
    input.addEventListener("input", check);
    check();
  });

  var box = document.getElementById("deletion");
  if (!box || !box.getAttribute("data-active")) return;
  var url = box.getAttribute("data-progress-url");
  function field(name) { return box.querySelector("[data-field=" + name + "]"); }
  function size(bytes) {
    var units = ["bytes", "KB", "MB", "GB", "TB"], i = 0;
    while (bytes >= 1024 && i < units.length - 1) { bytes /= 1024; i += 1; }
    return (i ? bytes.toFixed(1) : bytes) + " " + units[i];
  }
  function show(progress) {
    var status = field("status");
    status.textContent = progress.status.toLowerCase();
    status.className = "badge deletion-" + progress.status;
    field("stage").textContent = progress.stage;
    var bar = field("bar");
    if (progress.total) { bar.max = progress.total; bar.value = progress.done; }
    var error = field("error");
    error.textContent = progress.error;
    error.hidden = !progress.error;
    progress.rows.forEach(function (row) {
      var cell = box.querySelector("tr[data-key='" + row.key + "'] [data-done]");
      if (cell) cell.textContent = row.key === "bytes" ? size(row.done) : row.done;
    });
    field("next").hidden = !progress.finished;
    return progress.finished;
  }
  function poll() {
    fetch(url, { headers: { Accept: "application/json" } })
      .then(function (response) { return response.json(); })
      .then(function (progress) { if (!show(progress)) setTimeout(poll, 1000); })
      .catch(function () { setTimeout(poll, 3000); });
  }
  setTimeout(poll, 500);
})();
