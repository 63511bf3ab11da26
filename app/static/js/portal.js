/* The account dialog: HTMX swaps a step into #dialog-body; this opens the <dialog>,
   moves focus to the new step, and cleans up on close. No inline script anywhere. */
(function () {
  "use strict";
  var dialog = document.getElementById("account-dialog");
  var body = document.getElementById("dialog-body");
  if (!dialog || !body) { return; }

  function focusStep() {
    var step = document.getElementById("account-step");
    if (!step) { return; }
    var target = step.querySelector("[aria-invalid=true]") ||
      step.querySelector("input:not([type=hidden]):not([type=checkbox])") ||
      step.querySelector("h2");
    if (target) { target.focus({ preventScroll: false }); }
  }

  document.body.addEventListener("htmx:afterSwap", function (event) {
    if (event.detail.target === body && !dialog.open) { dialog.showModal(); }
  });
  document.body.addEventListener("htmx:afterSettle", function (event) {
    var settled = event.detail.elt;
    if (settled && settled.id === "account-step" || (settled && body.contains(settled))) { focusStep(); }
  });
  dialog.addEventListener("click", function (event) {
    if (event.target === dialog) { dialog.close(); } /* a click on the backdrop */
  });
  dialog.addEventListener("close", function () {
    /* After logging in or verifying, the page behind must show the new state. */
    if (body.querySelector("[data-reload-on-close]")) { window.location.reload(); return; }
    body.innerHTML = "";
  });
})();
