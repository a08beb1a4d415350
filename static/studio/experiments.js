// The runs table: pick runs to compare, and fold child runs under their parent.
(function () {
  "use strict";
  var table = document.getElementById("runs");
  var compare = document.getElementById("compare");
  if (!table || !compare) return;
  var selection = document.getElementById("selection");
  var selectAll = document.getElementById("select-all");
  var picks = Array.prototype.slice.call(table.querySelectorAll("input.pick"));

  function updateCompare() {
    var ids = picks.filter(function (box) { return box.checked; }).map(function (box) { return box.value; });
    var ready = ids.length >= 2;
    compare.href = compare.dataset.base + (ids.length ? "?runs=" + ids.join(",") : "");
    compare.setAttribute("aria-disabled", ready ? "false" : "true");
    selection.textContent = ids.length
      ? ids.length + " run" + (ids.length === 1 ? "" : "s") + " selected" + (ready ? "" : ": select one more")
      : "Select two or more runs to compare";
    if (selectAll) {
      selectAll.checked = ids.length > 0 && ids.length === picks.length;
      selectAll.indeterminate = ids.length > 0 && ids.length < picks.length;
    }
  }

  table.addEventListener("change", function (event) {
    if (event.target === selectAll) {
      picks.forEach(function (box) { box.checked = selectAll.checked; });
    }
    updateCompare();
  });
  compare.addEventListener("click", function (event) {
    if (compare.getAttribute("aria-disabled") === "true") event.preventDefault();
  });

  // A folded run hides every row nested under it, at any depth.
  var folded = {};
  table.addEventListener("click", function (event) {
    var button = event.target.closest("button.toggle");
    if (!button) return;
    var runId = button.dataset.toggle;
    folded[runId] = !folded[runId];
    button.setAttribute("aria-expanded", folded[runId] ? "false" : "true");
    button.textContent = folded[runId] ? "▸" : "▾";
    table.querySelectorAll("tr[data-ancestors]").forEach(function (row) {
      var hidden = row.dataset.ancestors.split(" ").some(function (id) { return folded[id]; });
      row.hidden = hidden;
    });
  });

  updateCompare();
})();
