"""Reading a page as a French visitor would: the text a person sees, and a check that no English
is left in it (the catalogue's English source strings, common English words)."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
POT = ROOT / "app" / "translations" / "messages.pot"
PO = ROOT / "app" / "translations" / "fr" / "LC_MESSAGES" / "messages.po"
ENGLISH_WORDS = {
    "the",
    "and",
    "your",
    "you",
    "with",
    "this",
    "please",
    "to",
    "of",
    "for",
    "is",
    "are",
    "account",
    "password",
    "email",
    "download",
    "story",
    "stories",
    "search",
    "log",
    "new",
    "send",
    "enter",
    "from",
    "or",
    "not",
    "here",
    "back",
}  # ("code", "page" are French words too)
ALLOWED = {"NATO", "OTAN", "EN", "FR", "MP4", "H.264", "HD", "SD", "Multimédia", "e-mail", "broadcast"}


def catalog(path):
    with path.open("rb") as source:
        return read_po(source, locale="fr")


def english_fragments() -> set[str]:
    fragments = set()
    for message in catalog(POT):
        for msgid in message.id if isinstance(message.id, tuple) else (message.id,):
            if not msgid:
                continue
            for piece in re.split(r"%\(\w+\)s|<[^>]+>|[“”\"()]", msgid):
                piece = piece.strip(" .,:;!?·–-’'")
                if len(piece) >= 8 and " " in piece:
                    fragments.add(piece)
    return fragments


class VisibleText(HTMLParser):
    """Text a person sees or hears (with attributes read aloud), minus lang="en" content."""

    SKIP = {"script", "style"}
    SPOKEN = ("placeholder", "title", "aria-label", "alt")

    def __init__(self):
        super().__init__()
        self.stack, self.parts = [], []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        english = (attrs.get("lang") or "").startswith("en") and tag not in ("html", "a", "button")
        if tag not in ("input", "meta", "link", "img", "br", "source"):
            self.stack.append(english or tag in self.SKIP)
        if not any(self.stack):
            self.parts += [attrs[a] for a in self.SPOKEN if attrs.get(a)]

    def handle_endtag(self, tag):
        if tag not in ("input", "meta", "link", "img", "br", "source") and self.stack:
            self.stack.pop()

    def handle_data(self, data):
        if not any(self.stack):
            self.parts.append(data)


def visible(html: str) -> str:
    parser = VisibleText()
    parser.feed(html)
    return re.sub(r"\s+", " ", " ".join(parser.parts))


def assert_french(text: str, where: str) -> None:
    text = re.sub(r"https?://\S+|(?<!\w)/[\w/.?=&%-]+", " ", text)  # URLs are not words
    leftovers = sorted(f for f in english_fragments() if f in text)
    assert not leftovers, f"{where}: English left: {leftovers[:5]}"
    words = {w for w in re.findall(r"[A-Za-z]+", text) if w.lower() in ENGLISH_WORDS and w not in ALLOWED}
    assert not words, f"{where}: English words: {sorted(words)} in {text[:300]!r}"
