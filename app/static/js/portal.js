/* The account dialog: HTMX swaps a step into #dialog-body; this opens the <dialog>,
   moves focus to the new step, and cleans up on close. No inline script anywhere. */
(function () {
  "use strict";
  /* Search form: leave empty fields out of the request, so the address bar shows ?q=antalya
     rather than ?q=antalya&from=&to=&category=. */
  document.body.addEventListener("htmx:configRequest", function (event) {
    if (!event.detail.elt.hasAttribute("data-drop-empty")) { return; }
    var params = event.detail.parameters;
    Object.keys(params).forEach(function (key) { if (params[key] === "") { delete params[key]; } });
  });
  /* "Load more": keyboard focus moves to the first new story instead of falling to <body>. */
  document.body.addEventListener("htmx:afterSettle", function () {
    var next = document.querySelector("[data-focus]");
    if (next) { next.removeAttribute("data-focus"); next.focus(); }
  });

  /* An error said in a form's alert area (account page): a "Saved." from an earlier send no
     longer holds, so it goes. */
  document.body.addEventListener("htmx:afterSwap", function (event) {
    var area = event.detail.target;
    if (!area || !/^account-[a-z]+-alert$/.test(area.id || "")) { return; }  /* not the dialog's #step-alert */
    var section = area.closest("section");
    var saved = section && section.querySelector("p.notice[role=status]");
    if (saved) { saved.remove(); }
  });

  /* Every HTMX request shows: a thin bar at the top of the page (and of the dialog), and the
     region it will replace is marked busy and dimmed until the answer is in. */
  var pending = 0;
  function busy(target, on) {
    if (!target) { return; }
    if (on) { target.setAttribute("aria-busy", "true"); } else { target.removeAttribute("aria-busy"); }
  }
  document.body.addEventListener("htmx:beforeRequest", function (event) {
    pending += 1;
    document.documentElement.classList.add("is-loading");
    busy(event.detail.target, true);
    clearRequestAlert(event.detail.elt);
  });
  document.body.addEventListener("htmx:afterRequest", function (event) {
    pending = Math.max(0, pending - 1);
    if (!pending) { document.documentElement.classList.remove("is-loading"); }
    busy(event.detail.target, false);
  });

  /* No answer (offline, the server unreachable, or slower than htmx's timeout): nothing was
     swapped, so what was typed is still there; say so where the step or page says its errors,
     with a button that sends the same request again. */
  function alertAreaFor(elt) {
    var form = elt && elt.closest ? elt.closest("form") : null;
    var area = form && form.querySelector("[role=alert]");
    if (!area && elt && elt.closest && elt.closest("#account-dialog")) {
      area = document.querySelector("#account-dialog [role=alert]");
    }
    return area || document.getElementById("request-alert");
  }
  function clearRequestAlert(elt) {
    var area = alertAreaFor(elt);
    var said = area && area.querySelector("[data-request-failed]");
    if (said) { said.remove(); }
    if (area && area.id === "request-alert" && !area.children.length) { area.hidden = true; }
  }
  function sayRequestFailed(event, message) {
    var elt = event.detail.elt;
    var area = alertAreaFor(elt);
    if (!area) { return; }
    var said = document.createElement("p");
    said.setAttribute("data-request-failed", "");
    said.textContent = message + " ";
    var again = document.createElement("button");
    again.type = "button";
    again.className = "link-button";
    again.textContent = document.body.getAttribute("data-msg-retry");
    again.addEventListener("click", function () {
      if (elt.tagName === "FORM" && elt.requestSubmit) { elt.requestSubmit(); }
      else if (elt.isConnected) { elt.click(); }
    });
    said.appendChild(again);
    var old = area.querySelector("[data-request-failed]");
    if (old) { old.remove(); }
    area.appendChild(said);
    area.hidden = false;
  }
  document.body.addEventListener("htmx:sendError", function (event) {
    sayRequestFailed(event, document.body.getAttribute("data-msg-offline"));
  });
  document.body.addEventListener("htmx:timeout", function (event) {
    sayRequestFailed(event, document.body.getAttribute("data-msg-timeout"));
  });

  /* "You can ask for a new code in 45 seconds": the seconds count down, then the sentence says
     a new code can be asked for now. The page says the wait in words without JavaScript. */
  function startCountdowns() {
    document.querySelectorAll("[data-countdown]:not([data-counting])").forEach(function (counter) {
      counter.setAttribute("data-counting", "");
      var left = parseInt(counter.getAttribute("data-countdown"), 10);
      var many = counter.textContent;  /* "45 seconds", in the page's language */
      var timer = window.setInterval(function () {
        if (!counter.isConnected) { window.clearInterval(timer); return; }
        left -= 1;
        if (left <= 0) {
          window.clearInterval(timer);
          var sentence = counter.closest("[data-ready]");
          if (sentence) { sentence.textContent = sentence.getAttribute("data-ready"); }
          return;
        }
        counter.textContent = left === 1 ? counter.getAttribute("data-one") : many.replace(/\d+/, String(left));
      }, 1000);
    });
  }
  startCountdowns();
  document.body.addEventListener("htmx:afterSettle", startCountdowns);

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
  /* The dialog's own head (title, tagline, labels, current language) follows the step's
     language: after the in-dialog switch, the step is French while the page behind is not. */
  function syncDialogHead() {
    var step = document.getElementById("account-step");
    if (!step || !body.contains(step) || !step.hasAttribute("lang")) { return; }
    var language = step.getAttribute("lang");
    dialog.setAttribute("lang", language);
    dialog.querySelector("#account-dialog-title").textContent = step.getAttribute("data-dialog-title");
    dialog.querySelector(".dialog-tagline").textContent = step.getAttribute("data-dialog-tagline");
    dialog.querySelector(".dialog-close-text").textContent = step.getAttribute("data-close-label");
    dialog.querySelector(".lang-switch-dialog").setAttribute("aria-label", step.getAttribute("data-language-label"));
    dialog.querySelectorAll("[data-dialog-lang]").forEach(function (button) {
      if (button.getAttribute("data-dialog-lang") === language) { button.setAttribute("aria-current", "true"); }
      else { button.removeAttribute("aria-current"); }
    });
  }

  document.body.addEventListener("htmx:afterSettle", function (event) {
    syncDialogHead();
    var settled = event.detail.elt;
    if (settled && settled.id === "account-step" || (settled && body.contains(settled))) { focusStep(); }
  });
  /* EN | FR inside the dialog (the header is inert behind a modal): the same step again, in the
     other language; the page behind follows when the dialog closes. */
  dialog.addEventListener("click", function (event) {
    var button = event.target.closest("[data-dialog-lang]");
    var step = document.getElementById("account-step");
    if (!button || !step || !window.htmx) { return; }
    /* each language has its own URLs (/fr/...): the step says its address in each */
    var language = button.getAttribute("data-dialog-lang");
    var url = step.getAttribute("data-url-" + language);
    if (!url) { return; }
    dialog.setAttribute("data-language-changed", language);
    window.htmx.ajax("GET", url, { target: "#dialog-body", swap: "innerHTML" });
  });
  dialog.addEventListener("click", function (event) {
    if (event.target === dialog) { dialog.close(); } /* a click on the backdrop */
  });
  dialog.addEventListener("close", function () {
    /* After logging in or verifying, the page behind must show the new state. */
    /* After a language switch in the dialog, the page behind in that language: the header's
       switch link for it (which also remembers the choice). */
    var language = dialog.getAttribute("data-language-changed");
    var other = language && document.querySelector('.lang-switch a[hreflang="' + language + '"]');
    if (other && document.documentElement.getAttribute("lang") !== language) {
      window.location.assign(other.href);
      return;
    }
    if (body.querySelector("[data-reload-on-close]") || language) {
      window.location.reload();
      return;
    }
    body.innerHTML = "";
  });
})();
