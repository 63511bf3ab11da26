import pytest

from app.flows.redirects import safe_next

HOSTILE = [
    "//evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "https://evil.example",
    "http:evil.example",
    "javascript:alert(1)",
    "JavaScript:alert(1)",
    "%2F%2Fevil.example",
    "/%2F/evil.example",
    "/%5Cevil.example",
    "\t//evil.example",
    "\n/evil",
    "/\t/evil.example",
    "/\n/evil.example",
    " //evil.example",
    "evil.example",
    "data:text/html,x",
    "",
    None,
    42,
    "/" + "a" * 3000,
]


@pytest.mark.parametrize("target", HOSTILE)
def test_hostile_next_values_fall_back(target):
    assert safe_next(target, "/home") == "/home"


@pytest.mark.parametrize("target", ["/", "/conditions", "/stories/antalya?lang=fr#video", "/a/b%20c"])
def test_local_paths_are_kept(target):
    assert safe_next(target) == target
