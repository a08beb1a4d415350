// An import's page: while the import is active, poll its JSON and move the progress bar; once
// it has ended, reload so that the server renders the whole report.
(function () {
  var box = document.getElementById("import-status");
  if (!box || !box.dataset.active) return;
  var url = box.dataset.statusUrl;
  function field(name) { return box.querySelector('[data-field="' + name + '"]'); }
  function show(row) {
    var status = field("status");
    status.textContent = row.status.toLowerCase();
    status.className = "badge import-" + row.status;
    field("stage").textContent = row.stage;
    field("done").textContent = row.done;
    field("total").textContent = row.total === null ? "?" : row.total;
    field("problems").textContent = row.problem_count;
    var share = row.total ? Math.min(100, Math.floor(100 * row.done / row.total)) : 0;
    field("bar").value = share;
    field("bar").textContent = share + "%";
  }
  function poll() {
    fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (row) {
        if (row) {
          show(row);
          if (row.status !== "QUEUED" && row.status !== "RUNNING") { location.reload(); return; }
        }
        setTimeout(poll, 1000);
      })
      .catch(function () { setTimeout(poll, 3000); });
  }
  setTimeout(poll, 500);
})();
