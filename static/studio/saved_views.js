// The Views menu: deleting a view asks first, and so does saving over a view of the same name.
(function () {
  "use strict";
  var menu = document.getElementById("views-menu");
  if (!menu) return;
  menu.addEventListener("submit", function (event) {
    var form = event.target;
    if (form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
      event.preventDefault();
      return;
    }
    if (!form.classList.contains("save-view")) return;
    var name = form.elements.name.value.trim();
    var overwrite = form.elements.overwrite;
    var taken = (form.dataset.names || "").split("\n").indexOf(name.toLowerCase()) >= 0;
    if (taken && !overwrite.checked) {
      if (window.confirm("A view named “" + name + "” exists. Replace it with the table as it is now?")) {
        overwrite.checked = true;
      } else {
        event.preventDefault();
      }
    }
  });
})();
