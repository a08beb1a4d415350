// A trace's page: pick a span to see its details, fold spans under their parent.
// The server rendered every span's details (escaped); this only shows and hides them.
(function () {
  "use strict";
  var tree = document.getElementById("spans");
  if (!tree) return;
  var rows = Array.prototype.slice.call(tree.querySelectorAll(".span-row"));
  var details = Array.prototype.slice.call(document.querySelectorAll(".span-detail"));
  var folded = {};

  function select(spanId) {
    rows.forEach(function (row) {
      var chosen = row.dataset.span === spanId;
      row.classList.toggle("selected", chosen);
      row.setAttribute("aria-selected", chosen ? "true" : "false");
    });
    details.forEach(function (detail) { detail.hidden = detail.dataset.span !== spanId; });
    var url = new URL(window.location.href);
    url.searchParams.set("span", spanId);
    window.history.replaceState(null, "", url);
  }

  function refold() {
    rows.forEach(function (row) {
      var ancestors = row.dataset.ancestors;
      row.hidden = !!ancestors && ancestors.split(" ").some(function (id) { return folded[id]; });
    });
    tree.querySelectorAll("button.fold").forEach(function (button) {
      var isFolded = !!folded[button.dataset.fold];
      var row = button.closest(".span-row");
      button.textContent = isFolded ? "▸" : "▾";
      button.setAttribute("aria-label", (isFolded ? "Expand " : "Collapse ") + row.querySelector(".span-link").textContent);
      row.setAttribute("aria-expanded", isFolded ? "false" : "true");
    });
  }

  tree.addEventListener("click", function (event) {
    var fold = event.target.closest("button.fold");
    if (fold) {
      folded[fold.dataset.fold] = !folded[fold.dataset.fold];
      refold();
      return;
    }
    var row = event.target.closest(".span-row");
    if (!row) return;
    event.preventDefault();
    select(row.dataset.span);
  });

  document.querySelectorAll("button[data-tree]").forEach(function (button) {
    button.addEventListener("click", function () {
      var collapse = button.dataset.tree === "collapse";
      folded = {};
      if (collapse) {
        tree.querySelectorAll("button.fold").forEach(function (fold) { folded[fold.dataset.fold] = true; });
      }
      refold();
    });
  });

  // Up and down move the selection through the spans in view.
  tree.addEventListener("keydown", function (event) {
    if (event.key !== "ArrowDown" && event.key !== "ArrowUp") return;
    var shown = rows.filter(function (row) { return !row.hidden; });
    var at = shown.findIndex(function (row) { return row.classList.contains("selected"); });
    var next = shown[Math.max(0, Math.min(shown.length - 1, at + (event.key === "ArrowDown" ? 1 : -1)))];
    if (!next) return;
    event.preventDefault();
    select(next.dataset.span);
    next.querySelector(".span-link").focus();
  });
})();
