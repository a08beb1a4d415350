// A job's page while the job is active: read its output from the last offset, append what is
// new, keep the status current, and reload the page when the job has ended.
(function () {
  var box = document.getElementById("job-status");
  if (!box || !box.dataset.active) return;
  var url = box.dataset.outputUrl;
  var offset = parseInt(box.dataset.offset || "0", 10);
  var pre = document.getElementById("job-output");
  function set(field, value) {
    document.querySelectorAll('[data-field="' + field + '"]').forEach(function (el) { el.textContent = value; });
  }
  function poll() {
    fetch(url + "?offset=" + offset, { credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (data) {
        if (!data) return setTimeout(poll, 5000);
        if (data.text) {
          var atBottom = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
          pre.textContent += data.text;
          if (atBottom) pre.scrollTop = pre.scrollHeight;
        }
        offset = data.next_offset;
        set("status", data.status.toLowerCase());
        document.querySelectorAll('[data-field="status"]').forEach(function (el) { el.className = "badge job-" + data.status; });
        if (data.run_status) {
          set("run_status", data.run_status);
          document.querySelectorAll('[data-field="run_status"]').forEach(function (el) { el.className = "badge " + data.run_status; });
        }
        if (data.stage) set("stage", data.stage);
        set("done", data.done);
        if (data.ended) return setTimeout(function () { location.reload(); }, 500);
        setTimeout(poll, data.next_offset < data.size ? 50 : 1500);
      })
      .catch(function () { setTimeout(poll, 5000); });
  }
  setTimeout(poll, 1000);
})();
