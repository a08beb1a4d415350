// The new-rule form shows the fields of the chosen kind only (the server checks them anyway).
(function () {
  const form = document.querySelector(".rule-form");
  if (!form) return;
  const kind = form.querySelector("select[name=kind]");
  function show() {
    form.querySelectorAll("[data-for]").forEach((element) => {
      element.hidden = element.dataset.for !== kind.value;
    });
  }
  kind.addEventListener("change", show);
  show();
})();
