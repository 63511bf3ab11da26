"""The comments' pointers into docs/ ("docs/security.md, Codes") name a page and a section that
exist, so that a renamed heading or page is caught here rather than by a puzzled reader."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# "(docs/accounts.md, Reset; docs/security.md, Codes)", "(docs/mail.md)", "(issue #7; docs/security.md, Codes)"
POINTER_GROUP = re.compile(r"\(([^()]*docs/[a-z_-]+\.md[^()]*)\)")
PAGE = re.compile(r"docs/([a-z_-]+\.md)(?:,\s*(.*))?", re.S)


def headings(page: Path) -> set[str]:
    return {line[3:].strip() for line in page.read_text("utf-8").splitlines() if line.startswith("## ")}


def pointers(text: str):
    """(page, section or None) for every pointer in ``text``; a part after ";" without a page of its
    own is a section of the page before it."""
    for group in POINTER_GROUP.findall(text):
        group = re.sub(r"\s*\n\s*#?\s*", " ", group)  # a comment that goes on over lines
        page = None
        for part in (p.strip() for p in group.split(";")):
            found = PAGE.match(part)
            if found:
                page, section = found[1], found[2]
            elif page is None or re.fullmatch(r"issue #\d+", part):
                continue
            else:
                section = part
            yield page, " ".join(section.split()).strip('"') if section else None


def test_pointers_name_pages_and_sections_that_exist():
    sources = [
        path
        for folder in ("app", "tests", "bench", "migrations")
        for path in (ROOT / folder).rglob("*.py")
        if path != Path(__file__).resolve()
    ]  # this file's examples are strings, some escaped
    checked, missing = 0, []
    for path in sources:
        for page, section in pointers(path.read_text("utf-8")):
            target = ROOT / "docs" / page
            checked += 1
            if not target.is_file() or (section is not None and section not in headings(target)):
                missing.append(f"{path.relative_to(ROOT)}: docs/{page}" + (f", {section}" if section else ""))
    assert not missing
    assert checked >= 20  # the pointers were found at all


def test_pointers_are_read_as_meant():
    text = '"""x (docs/accounts.md, Reset; docs/security.md, Codes) y (issue #7; docs/mail.md) (a; b)"""'
    assert list(pointers(text)) == [("accounts.md", "Reset"), ("security.md", "Codes"), ("mail.md", None)]
    assert list(pointers('# (docs/architecture.md,\n# "Migrations")')) == [("architecture.md", "Migrations")]
    assert list(pointers("(docs/portal.md, Catalogue and search; Story page)")) == [
        ("portal.md", "Catalogue and search"),
        ("portal.md", "Story page"),
    ]


def test_no_pointer_to_a_document_outside_the_repository():
    """The product specification is not in the repository: comments point to docs/ instead."""
    for folder in ("app", "tests", "bench", "migrations"):
        for path in (ROOT / folder).rglob("*.py"):
            assert "SPEC " + "§" not in path.read_text("utf-8"), path
