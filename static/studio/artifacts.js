// The delete confirmation: the button wakes up once the file or folder name is typed back.
// The server checks the name too; this only saves a round trip.
(function () {
  document.querySelectorAll("form.delete-form").forEach(function (form) {
    var input = form.querySelector("input[name=confirm]");
    var button = form.querySelector("button[type=submit]");
    var expected = form.getAttribute("data-confirm-name");
    function sync() { button.disabled = input.value.trim() !== expected; }
    input.addEventListener("input", sync);
    sync();
    var menu = form.closest("details");
    if (menu) menu.addEventListener("toggle", function () { if (menu.open) input.focus(); });
  });
})();
