"""What the browser tests share: Chromium's settings, a phone's and a laptop's viewport, a page's
log, waiting for htmx to settle."""

from __future__ import annotations

import re

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
TIMEOUT_MS = 10_000  # every wait in these tests; well under 15 s
PHONE = {"width": 390, "height": 844}
LAPTOP = {"width": 1280, "height": 640}


class PageLog:
    """What a page said while the test ran: console messages, uncaught errors, main-frame loads."""

    def __init__(self, page, *, javascript: bool = True):
        self.csp_violations: list[str] = []
        self.console: list[tuple[str, str, str]] = []  # (type, text, url of the source)
        self.page_errors: list[str] = []
        self.navigations: list[str] = []
        page.on("console", lambda msg: self.console.append((msg.type, msg.text, msg.location.get("url", ""))))
        page.on("pageerror", lambda exc: self.page_errors.append(str(exc)))
        page.on("framenavigated", lambda frame: frame == page.main_frame and self.navigations.append(frame.url))
        if javascript:  # the DOM's own report of CSP violations, besides Chromium's console line
            page.expose_function("__reportCspViolation", lambda text: self.csp_violations.append(text))
            page.add_init_script(
                "document.addEventListener('securitypolicyviolation', e => window.__reportCspViolation("
                "`${e.violatedDirective} blocked ${e.blockedURI || '(inline)'} at ${e.sourceFile}:${e.lineNumber}`));"
            )

    def problems(self, ignore: tuple[str, ...] = ()) -> list[str]:
        """Console errors, CSP reports (whatever their level) and page errors not matching ``ignore``."""
        found = [
            f"console.{kind}: {text} [{url}]"
            for kind, text, url in self.console
            if kind == "error" or "Content Security Policy" in text or "Content-Security-Policy" in text
        ]
        found += [f"pageerror: {text}" for text in self.page_errors]
        found += [f"CSP violation: {text}" for text in self.csp_violations]
        return [p for p in found if not any(re.search(pattern, p) for pattern in ignore)]


def settled(scope) -> None:
    """Wait until no htmx swap is settling. After a step settles, portal.js moves focus to its
    first field; a field filled before that could lose its typing to the focus move (seen in CI:
    a password typed into the log-in step arrived empty). Pages without JavaScript pass at once."""
    scope.page.wait_for_function(
        "() => !document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling, .htmx-added')"
    )
