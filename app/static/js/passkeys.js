// Passkeys (app/twofactor/passkey_views.py): a form marked data-passkey="register" or
// "authenticate" fetches its options, lets the browser make or use the passkey
// (@simplewebauthn/browser, app/static/vendor), puts the answer in its "credential" field and is
// then posted as any form (by htmx in the account dialog). Without JavaScript or passkey support
// the button stays hidden: "Sign in with a passkey" on the log-in step is such a form.
(function () {
  "use strict";
  var lib = window.SimpleWebAuthnBrowser;
  var supported = !!(lib && lib.browserSupportsWebAuthn());

  function reveal(root) {
    if (!supported) return;
    root.querySelectorAll("[data-passkey-only]").forEach(function (el) { el.hidden = false; });
    root.querySelectorAll("[data-passkey-missing]").forEach(function (el) { el.hidden = true; });
  }

  function failed(form) {
    var message = form.querySelector("[data-passkey-error]");
    if (message) { message.hidden = false; message.setAttribute("role", "alert"); }
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!supported || !form.matches("form[data-passkey]") || form.elements.credential.value) return;
    if (form.elements.name && !form.elements.name.value.trim()) return;  // the server says a name is needed
    event.preventDefault();
    var token = form.elements.csrf_token.value;
    fetch(form.dataset.optionsUrl, {method: "POST", credentials: "same-origin", headers: {"X-CSRFToken": token}})
      .then(function (response) {
        if (!response.ok) throw new Error("options " + response.status);
        return response.json();
      })
      .then(function (options) {
        return form.dataset.passkey === "register"
          ? lib.startRegistration({optionsJSON: options})
          : lib.startAuthentication({optionsJSON: options});
      })
      .then(function (answer) {
        form.elements.credential.value = JSON.stringify(answer);
        // a form in the account dialog is posted by htmx, which waits for this event (hx-trigger)
        if (form.hasAttribute("hx-post") && window.htmx) window.htmx.trigger(form, "passkey-answer");
        else form.submit();
      })
      .catch(function () { failed(form); });
  });

  document.addEventListener("DOMContentLoaded", function () { reveal(document); });
  document.addEventListener("htmx:load", function (event) { reveal(event.target); });
})();
