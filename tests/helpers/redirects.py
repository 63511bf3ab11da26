"""Open redirects as a test judges them (docs/security.md, Redirects): hostile ``next`` values, and
whether a URL the portal answers with stays on the site, read as a browser reads it."""

from __future__ import annotations

import re
from urllib.parse import unquote, urljoin, urlsplit

SITE = "https://portal.example/stories/here"  # where the page with the link or redirect is
C0_AND_SPACE = "".join(chr(i) for i in range(0x21))

HOSTILE = [
    # other hosts
    "//evil.example",
    "///evil.example",
    "//evil.example@portal.example",
    "/\\evil.example",
    "\\\\evil.example",
    "\\/evil.example",
    "https://evil.example",
    "https:evil.example",
    "https:/evil.example",
    "HtTpS://evil.example",
    "evil.example",
    # schemes that run or show something
    "javascript:alert(1)",
    "JaVaScRiPt:alert(1)",
    "java\tscript:alert(1)",
    "javascript://%0aalert(1)",
    "data:text/html,<script>alert(1)</script>",
    # encodings that a later decode turns into one of the above
    "%2F%2Fevil.example",
    "/%2F/evil.example",
    "/%2fevil.example",
    "/%5Cevil.example",
    "/%09/evil.example",
    "javascript%3Aalert(1)",
    # characters browsers drop or trim before they read a URL
    "\t//evil.example",
    "\n//evil.example",
    "/\t/evil.example",
    "/\r\n/evil.example",
    "\x00//evil.example",
    " //evil.example",
    "\u3000//evil.example",
    # slashes from elsewhere in Unicode
    "/\uff0fevil.example",
    "\uff0f\uff0fevil.example",
    "/\u2215evil.example",
    "\u2044\u2044evil.example",
    # too long for anyone's good
    "/" + "a" * 3000,
]


def stays_on_site(url: str) -> bool:
    """A path on this site, however a browser (WHATWG URL parsing) or a server that decodes once
    more reads it: not another host, not another scheme."""
    if not url.startswith("/") or url.startswith(("//", "/\\")):
        return False
    for candidate in (url, unquote(url)):
        # browsers drop tabs and newlines, trim C0 controls and spaces, and read "\" as "/"
        read = re.sub(r"[\t\n\r]", "", candidate).strip(C0_AND_SPACE).replace("\\", "/")
        if read.startswith("//"):
            return False
        parts = urlsplit(urljoin(SITE, read))
        if (parts.scheme, parts.netloc) != ("https", "portal.example"):
            return False
    return True
