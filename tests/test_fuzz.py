"""Fuzzing (issue #7): whatever arrives at any route, the answer is never a 500 nor a stack trace,
and the database keeps its invariants.

The routes come from ``app.url_map``; the fields of each form endpoint from the Flask-WTF forms its
view uses (cross-checked against the inputs of the rendered pages). Requests carry text, NUL,
raw non-UTF-8 bytes, 100,000-character values, missing and duplicated fields, urlencoded or
multipart bodies (with file parts), JSON, or an odd Content-Type; a valid CSRF token in most, none
or a junk one in some; with and without HTMX headers; from no session, an anonymous one, and
sessions in the middle of a flow (registered but unverified, logged in, reset code sent, reset code
checked). GET routes get junk in their path arguments and query strings (q, page, dates, lang, next).

Example counts are modest and the runs deterministic (the "fuzz-ci" profile); set
FUZZ_PROFILE=fuzz-long for a longer, randomised run on a workstation.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import logging
import os
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote_from_bytes

import pytest
from flask_wtf import FlaskForm
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from werkzeug.routing import IntegerConverter
from wtforms.fields.core import UnboundField

import app as app_package
from app.extensions import db
from app.flows.codes import EMAIL_CHANGE, PURPOSES, CodePolicy, hash_code
from app.flows.story_fields import SLUG
from app.models import (
    Download,
    NewsletterIssue,
    OutboxMessage,
    Rendition,
    Story,
    User,
    VerificationCode,
    WrongCodeEntry,
    utcnow,
)
from app.outbox import ACCOUNT_MAIL, CODE_MAIL, NEWSLETTER, STAND_IN_MAIL

from .helpers.catalogue_data import STORIES, load
from .helpers.portal import (
    GOOD_PASSWORD,
    age_codes,
    csrf_token,
    nothing_written,
    post,
    register_and_verify,
    registration,
)
from .helpers.reset import reset_code
from .helpers.second_factor_helpers import set_up_authenticator
from .helpers.staff_data import promote

settings.register_profile(
    "fuzz-ci",
    max_examples=15,
    derandomize=True,
    deadline=None,
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile("fuzz-long", settings.get_profile("fuzz-ci"), max_examples=300, derandomize=False)
FUZZ = settings(settings.get_profile(os.environ.get("FUZZ_PROFILE", "fuzz-ci")))


@pytest.fixture
def app_config():
    # Rate limiting stays on (its key functions read the odd bodies too) but never stops the fuzzing.
    return {
        "RATELIMIT_PER_IP": "100000 per minute",
        "RATELIMIT_PER_ADDRESS": "100000 per minute",
        "RATELIMIT_STAFF": "100000 per minute",
    }


# --- routes and their fields, discovered ---------------------------------------------------

ARGUMENT = re.compile(r"<(?:[^<>:]+:)?([^<>]+)>")


def forms_used_by(view, depth: int = 2) -> set[type[FlaskForm]]:
    """The FlaskForm classes a view names, directly or through the app's helpers it calls."""
    view = inspect.unwrap(view)
    found: set[type[FlaskForm]] = set()
    for name in view.__code__.co_names:
        value = view.__globals__.get(name)
        if isinstance(value, type) and issubclass(value, FlaskForm):
            found.add(value)
        elif depth and inspect.isfunction(value) and value.__module__.startswith("app."):
            found |= forms_used_by(value, depth - 1)
    # a view made for one case (app/code_step.py: a view per Purpose) holds its form in its closure
    for value in inspect.getclosurevars(view).nonlocals.values():
        for held in [value, *(vars(value).values() if dataclasses.is_dataclass(value) else ())]:
            if isinstance(held, type) and issubclass(held, FlaskForm):
                found.add(held)
    return found


def form_fields(form_class: type[FlaskForm]) -> set[str]:
    return {name for cls in form_class.__mro__ for name, value in vars(cls).items() if isinstance(value, UnboundField)}


@dataclass(frozen=True)
class Route:
    rule: str
    methods: frozenset[str]
    fields: tuple[str, ...]
    arguments: tuple[tuple[str, bool], ...]  # (name, is a number)


def discover_routes(app, page_fields: dict[str, set[str]] | None = None) -> list[Route]:
    """Every rule of the url_map; a form endpoint's fields are its view's forms' and, when given,
    the inputs that rendered pages show for it (``page_fields``, by form action)."""
    routes = []
    for rule in app.url_map.iter_rules():
        view = app.view_functions[rule.endpoint]
        fields = set().union(
            *(form_fields(form) for form in forms_used_by(view)), (page_fields or {}).get(rule.rule, ())
        )
        arguments = tuple(
            (name, isinstance(rule._converters[name], IntegerConverter)) for name in sorted(rule.arguments)
        )
        routes.append(Route(rule.rule, frozenset(rule.methods), tuple(sorted(fields)), arguments))
    return routes


PAGES = [
    "/",
    "/privacy",
    "/account/register",
    "/account/login",
    "/account/reset",
    "/account/verify",
    "/account/reset/code",
    "/account/reset/password",
    "/account",
    "/account/welcome",
    "/stories/foreign-ministers-meet-in-antalya",
    "/staff/",
    "/staff/stories/new",
    "/staff/stories/1",
    "/staff/stories/1/preview",
    "/staff/people",
    "/account/two-step",
    "/account/two-step/authenticator",
    "/account/two-step/sign-in",
]
POST_FORM = re.compile(r'<form(?=[^>]*method="post")[^>]*action="([^"?]+)[^"]*"[^>]*>(.*?)</form>', re.S | re.I)


def rendered_forms(app, sessions) -> dict[str, set[str]]:
    """The input names of every POST form the pages show, in every state, by the rule of its action
    (a story's editor posts to /staff/stories/1, the rule /staff/stories/<id:story_id>)."""
    found: dict[str, set[str]] = {}
    urls = app.url_map.bind("localhost")
    for session in sessions.values():
        client = client_in(app, session)
        for page in PAGES:
            for action, inner in POST_FORM.findall(client.get(page).get_data(as_text=True)):
                rule = urls.match(action, method="POST", return_rule=True)[0].rule
                found.setdefault(rule, set()).update(set(re.findall(r'name="([^"]+)"', inner)) - {"csrf_token"})
    return found


# --- sessions in every state an account can be in ------------------------------------------

MEMBER, UNVERIFIED, GRANTED = "fuzz-member@example.org", "fuzz-unverified@example.org", "fuzz-granted@example.org"
STAFF = "fuzz-staff@example.org"
MOVER = "fuzz-mover@example.org"  # waits for the code that moves the account to MOVED
MOVED = "fuzz-moved@example.org"
TWO_STEP = "fuzz-two-step@example.org"  # has an authenticator app; its browser has typed the password
STATES = (
    "none",
    "anonymous",
    "registered-unverified",
    "logged-in-verified",
    "reset-in-progress",
    "reset-granted",
    "staff",
    "email-change-waiting",
    "second-factor-waiting",
)


@dataclass
class Session:
    cookies: dict[str, str]
    token: str | None


def build_sessions(app) -> dict[str, Session]:
    """One browser per state, its cookies kept so every example starts from the same place."""
    sessions = {"none": Session({}, None)}
    clients = {state: app.test_client() for state in STATES[1:]}
    clients["anonymous"].get("/")
    post(clients["registered-unverified"], "/account/register", registration(UNVERIFIED))
    register_and_verify(clients["logged-in-verified"], app, MEMBER)
    register_and_verify(clients["staff"], app, STAFF)
    promote(app, STAFF)
    set_up_authenticator(clients["staff"], app, STAFF)  # the staff area asks for a second factor
    two_step = app.test_client()
    register_and_verify(two_step, app, TWO_STEP)
    set_up_authenticator(two_step, app, TWO_STEP)
    post(clients["second-factor-waiting"], "/account/login", {"email": TWO_STEP, "password": GOOD_PASSWORD})
    register_and_verify(clients["email-change-waiting"], app, MOVER)
    register_and_verify(app.test_client(), app, GRANTED)
    age_codes(app, minutes=2)  # past the send throttle
    post(clients["logged-in-verified"], "/account/newsletter", {"subscribe": "on"})
    post(clients["reset-in-progress"], "/account/reset", {"email": MEMBER})
    post(clients["reset-granted"], "/account/reset", {"email": GRANTED})
    assert post(clients["reset-granted"], "/account/reset/code", {"code": reset_code(app, GRANTED)}).status_code == 303
    post(clients["email-change-waiting"], "/account/email", {"new_email": MOVED, "email_password": GOOD_PASSWORD})
    for state, client in clients.items():
        token = csrf_token(client)  # after the page visit that stores it in the session
        sessions[state] = Session({"session": client.get_cookie("session").value}, token)
    return sessions


def client_in(app, session: Session):
    client = app.test_client()
    for name, value in session.cookies.items():
        client.set_cookie(name, value)
    return client


# --- what must always hold -------------------------------------------------------------------

TRACE_MARKERS = (
    b"Traceback (most recent call last)",
    b'File "/',
    b"sqlalchemy.exc",
    b"psycopg",
    b"werkzeug.debug",
    b"jinja2.exceptions",
    b"IntegrityError",
    b"DataError",
    b"ProgrammingError",
)
CODE_LINE = re.compile(r"^\s*(\d{6})\s*$", re.M)


class ErrorLog(logging.Handler):
    def __init__(self):
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record):
        self.records.append(record)


@pytest.fixture
def error_log():
    handler, logger = ErrorLog(), logging.getLogger("app")
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)


def assert_sound(response, error_log, described):
    errors = [record.getMessage() for record in error_log.records]
    body = response.get_data()
    assert response.status_code < 500, (described, response.status_code, body[:300])
    leaked = [marker for marker in TRACE_MARKERS if marker in body]
    assert not leaked, (described, leaked)
    assert not errors, (described, errors)


def no_control(value: str) -> bool:
    return not any(unicodedata.category(ch) == "Cc" for ch in value) and "\ufffd" not in value


def check_invariants(app) -> None:
    """The rules the data model promises, whatever the requests did."""
    policy, secret, now = CodePolicy.from_config(app.config), app.config["SECRET_KEY"], utcnow()
    with app.app_context():
        users = db.session.query(User).all()
        codes = db.session.query(VerificationCode).all()
        mails = db.session.query(OutboxMessage).all()
        wrong = db.session.query(WrongCodeEntry).all()
        by_id = {user.id: user for user in users}
        for user in users:  # no account without its required fields, each as the forms allow it
            assert user.email and user.email == user.email.strip().lower() and "@" in user.email, user.email
            assert len(user.email) <= 254 and no_control(user.email)
            for name, limit in (("first_name", 100), ("last_name", 100), ("organisation", 200)):
                value = getattr(user, name)
                assert value and value == value.strip() and len(value) <= limit and no_control(value), (name, value)
            assert user.password_hash.startswith("$2") and user.session_token
            assert user.conditions_accepted_at is not None and user.created_at is not None
            assert user.language in (None, "en", "fr")
            assert (user.newsletter_opt_in_at is None) == (user.newsletter_opt_in_source is None)
            assert user.newsletter_opt_in_at is None or user.verified_at is not None  # only verified accounts log in
            # no account without its rows: an unverified one has had a code (or a stand-in that held the
            # send back) recorded for its address; a verified one used a code of its own (staff
            # accounts are made verified by `flask users create-staff`)
            if user.verified_at is None:
                assert any(code.address == user.email for code in codes), user.email
            elif not user.is_staff:
                assert any(code.user_id == user.id and code.used_at is not None for code in codes), user.email
        live = Counter()
        for code in codes:
            assert code.purpose in PURPOSES
            assert 0 <= code.wrong_entries <= policy.max_wrong_entries
            assert code.expires_at == code.created_at + policy.lifetime
            if code.user_id is not None and code.purpose != EMAIL_CHANGE:
                assert by_id[code.user_id].email == code.address  # bound to its account's address
            elif code.user_id is not None:  # bound to the address its account asked to move to
                assert code.user_id in by_id
            else:
                assert code.used_at is None  # a stand-in never matches
            if code.used_at is None and code.voided_at is None:
                live[code.address, code.purpose] += 1
        assert all(count == 1 for count in live.values()), live  # a new code voids the previous one
        # no half-sent code: every real code has exactly one mail carrying it, and no mail a code that is not recorded
        mailed = Counter()
        stand_ins = [mail for mail in mails if mail.kind == STAND_IN_MAIL]
        assert all(mail.failed_at is not None and mail.sent_at is None for mail in stand_ins)  # written, never sent
        assert not any(CODE_LINE.findall(mail.body_text) for mail in stand_ins)  # and kept like a sent code mail
        mails = [mail for mail in mails if mail.kind != STAND_IN_MAIL]
        for mail in mails:
            assert mail.recipient and mail.subject and mail.body_text and mail.attempts >= 0
            assert mail.kind in (ACCOUNT_MAIL, CODE_MAIL, NEWSLETTER)
            for found in CODE_LINE.findall(mail.body_text):
                mailed.update(hash_code(found, address=mail.recipient, purpose=p, secret=secret) for p in PURPOSES)
        real = {code.code_hash for code in codes if code.user_id is not None}
        assert all(mailed[code_hash] == 1 for code_hash in real)
        assert sum(len(CODE_LINE.findall(mail.body_text)) for mail in mails) == len(real)
        # wrong entries: counted per address, capped per hour, never fewer than the codes' own counts
        entries = Counter(entry.address for entry in wrong)
        recent = Counter(entry.address for entry in wrong if entry.at > now - timedelta(hours=1))
        assert all(count <= policy.wrong_entries_per_hour for count in recent.values()), recent
        per_address = Counter()
        for code in codes:
            per_address[code.address] += code.wrong_entries
        assert all(count <= entries[address] for address, count in per_address.items())
        # stories as the editor's rules allow them (app/flows/story_fields.py), in a known state
        for story in db.session.query(Story):
            assert story.state in ("draft", "published") and SLUG.match(story.slug), story.slug
            assert (
                story.title
                and story.title == story.title.strip()
                and len(story.title) <= 300
                and no_control(story.title)
            )
            assert story.version >= 1 and (story.state == "draft" or story.slug_locked)
        # counters never negative
        assert all(row.bytes_sent >= 0 for row in db.session.query(Download))
        assert all(row.story_count >= 0 for row in db.session.query(NewsletterIssue))
        assert all(row.bytes >= 0 for row in db.session.query(Rendition))


# --- what is sent ----------------------------------------------------------------------------

PLAUSIBLE = {
    "email": [MEMBER, UNVERIFIED, "fuzz-new@example.org", " FUZZ-Member@Example.org ", "nobody@example.org"],
    "password": [GOOD_PASSWORD, "Other-Harbour-43!"],
    "confirm": [GOOD_PASSWORD, "Other-Harbour-43!"],
    "current": ["Wrong-Harbour-44!"],
    "delete_password": ["Wrong-Harbour-44!"],
    "new_email": [MOVED, UNVERIFIED, " FUZZ-Member@Example.org "],
    "email_password": [GOOD_PASSWORD, "Wrong-Harbour-44!"],
    "first_name": ["Ann"],
    "last_name": ["Lee"],
    "organisation": ["Example Broadcasting"],
    "accept_conditions": ["y"],
    "remember": ["y"],
    "next": ["/conditions", "//evil.example/", "javascript:alert(1)", "/\\evil.example"],
    "code": ["123456", "000000", "12 34 56", "123-456", "1234567", "abcde-fghjk", "ABCDE FGHJK"],
    "factor_password": [GOOD_PASSWORD, "Wrong-Harbour-44!"],
    "remember_browser": ["y"],
    "subscribe": ["on", "off"],
    "List-Unsubscribe": ["One-Click"],
    # the story editor and its publication buttons
    "title": ["Summit in Brussels", "Défense"],
    "fr_title": ["Sommet"],
    "published": ["2026-05-14", "14/05/2026"],
    "version": ["1", "2", "-1", "99999999999"],
    "action": ["save", "add-rows", "publish", "schedule", "unpublish"],
    "publish_at": ["2030-01-01T09:30", "2000-01-01T00:00", "tomorrow"],
    "shot_at": ["00:00:01", "9:99:99"],
    "shot_text": ["Wide shot"],
    "fr_shot_text": ["Plan large"],
    "categories": ["Summits, Exercises", ", ,"],
}
EXTRA_NAMES = ["next", "csrf_token", "List-Unsubscribe", "email", "", "a" * 300, "naïve[]", "\x00"]

APP_DIR = Path(app_package.__file__).resolve().parent
ARGS_READ = re.compile(r"""args\.get(?:list)?\(\s*["']([^"']+)["']|args\[\s*["']([^"']+)["']\s*\]""")
URL_FOR = re.compile(r"""url_for\(\s*["'][^"']+["']\s*,([^)]*)\)""")
KEYWORD = re.compile(r"(?:^|,)\s*([a-z][a-z_]*)\s*=(?!=)")
GET_FORM = re.compile(r'<form(?=[^>]*method="get")[^>]*>(.*?)</form>', re.S | re.I)


def query_names() -> set[str]:
    """Every query parameter the app reads or makes links with, in its code and templates:
    ``args.get("x")`` / ``args["x"]``, ``url_for(..., x=...)`` keywords, and the inputs of GET forms."""
    names: set[str] = set()
    for path in sorted([*APP_DIR.rglob("*.py"), *APP_DIR.rglob("*.html")]):
        text = path.read_text("utf-8")
        names |= {read or indexed for read, indexed in ARGS_READ.findall(text)}
        for keywords in URL_FOR.findall(text):
            names |= set(KEYWORD.findall(keywords))
        for inner in GET_FORM.findall(text):
            names |= set(re.findall(r'name="([^"{]+)"', inner))
    return names


QUERY_NAMES = sorted(query_names())
JUNK_QUERY_NAMES = ["", "a" * 300, "naïve[]", "\x00", "q[]", "PAGE", "from ", "%", "__class__"]
# Values at the edges of what the parameters read: dates (the last day, year 1, past year 9999, a
# day that is not, other ISO forms), numbers past any column, signs, empties, NUL, non-UTF-8 bytes.
EDGE_VALUES = [
    "9999-12-31",
    "0001-01-01",
    "10000-01-01",
    "0000-00-00",
    "2025-02-29",
    "2025-W20-3",
    "20250514",
    "99999999999999999999",
    str(2**63),
    "-1",
    "0",
    "1e9",
    "",
    " ",
    "\x00",
    b"\xff\xfe",
    "a" * 5000,
    "[]",
    "%",
    "fr",
    "xx",
    "//evil.example/",
    "javascript:alert(1)",
    "/stories/x?download=2",
]
ODD_CONTENT_TYPES = [
    "application/json",
    "text/plain",
    "text/plain; charset=utf-16",
    "multipart/form-data",
    "multipart/form-data; boundary=",
    'multipart/form-data; boundary="unterminated',
    "application/x-www-form-urlencoded; charset=latin-1",
    "application/octet-stream",
    "x/y; a=\x7f",
    "",
]
HTMX_HEADERS = [
    {},
    {},
    {"HX-Request": "true", "HX-Target": "account-step"},
    {"HX-Request": "true"},
    {"HX-Request": "true", "HX-Boosted": "true"},
    {"HX-Request": "true", "HX-History-Restore-Request": "true"},
    {"HX-Request": "true", "HX-Target": "load-more"},
    {"HX-Request": "false", "HX-Target": "\x7f<script>"},
]
HUGE = 100_000

short_text = st.text(max_size=40)
values = st.one_of(
    short_text,
    st.tuples(short_text, short_text).map(lambda pair: pair[0] + "\x00" + pair[1]),  # NUL anywhere
    st.binary(max_size=40),  # raw bytes: mostly not UTF-8
    st.integers().map(str),
    st.sampled_from(sorted({v for options in PLAUSIBLE.values() for v in options})),
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | short_text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(short_text, inner, max_size=3),
    max_leaves=6,
)
huge_values = st.text(min_size=1, max_size=3).map(lambda seed: (seed * HUGE)[:HUGE])  # 100,000 characters


def as_bytes(value) -> bytes:
    return value if isinstance(value, bytes) else value.encode("utf-8", "surrogatepass")


def urlencode(pairs) -> bytes:
    return b"&".join(
        quote_from_bytes(as_bytes(k)).encode() + b"=" + quote_from_bytes(as_bytes(v)).encode() for k, v in pairs
    )


def multipart(pairs, files: set[int], boundary: bytes, nameless: bool) -> bytes:
    file_part = b'; filename="upload.txt"\r\nContent-Type: application/octet-stream'
    parts = [
        (
            b'; name="' + as_bytes(name).replace(b'"', b"%22") + b'"' + (file_part if index in files else b""),
            as_bytes(value),
        )
        for index, (name, value) in enumerate(pairs)
    ]
    return multipart_body([(b"", b"no name")] * nameless + parts, boundary)


@st.composite
def query_strings(draw) -> str:
    names = st.sampled_from(QUERY_NAMES) | st.sampled_from(JUNK_QUERY_NAMES) | short_text
    pairs = draw(st.lists(st.tuples(names, values | st.sampled_from(EDGE_VALUES)), max_size=4))
    return ("?" + urlencode(pairs).decode()) if pairs else ""


LANGUAGE_PREFIXES = ["", "/fr"]


@st.composite
def path_for(draw, route: Route) -> str:
    def argument(match):
        name = match.group(1)
        number = dict(route.arguments)[name]
        if number:
            raw = draw(
                st.sampled_from(["1", "2", "3", "0", str(2**31 - 1), str(2**31), str(2**63), "9" * 18])
                | st.integers(min_value=0, max_value=10**20).map(str)
            )
        else:
            raw = draw(
                st.sampled_from(["foreign-ministers-meet-in-antalya", "unsubscribe-token", "en", "fr", "exercises"])
                | short_text
            )
        return quote_from_bytes(as_bytes(raw), safe="") or "x"

    # the French site (/fr/..., app/i18n.py) is the same routes behind another prefix
    return draw(st.sampled_from(LANGUAGE_PREFIXES)) + ARGUMENT.sub(argument, route.rule)


@dataclass
class Attempt:
    method: str
    path: str
    state: str
    headers: dict
    remote_addr: str = "127.0.0.1"
    csrf: str = "none"  # field | header | twice | junk | none
    # urlencoded | multipart | raw (unescaped bytes) | json | odd (another Content-Type)
    encoding: str = "urlencoded"
    pairs: list = field(default_factory=list)
    files: frozenset = frozenset()  # multipart: which pairs go as file parts
    nameless: bool = False  # multipart: a part without a name comes first
    boundary: bytes = b"fuzz"
    prefix: bytes = b""  # odd: bytes before the fields
    json_body: object = None  # json: numbers, lists, objects, null where the forms expect text
    content_type: str = ""


@st.composite
def form_posts(draw, routes: list[Route]) -> Attempt:
    route = draw(st.sampled_from(routes))
    names = list(route.fields) or ["next"]
    pairs = []
    if draw(st.booleans()):  # a complete, plausible form, then something odd on top
        pairs = [(name, draw(st.sampled_from(PLAUSIBLE.get(name, ["x"])))) for name in names]
        if draw(st.booleans()):
            index = draw(st.integers(0, len(pairs) - 1))
            pairs[index] = (pairs[index][0], draw(values))
    pairs += draw(st.lists(st.tuples(st.sampled_from(names + EXTRA_NAMES) | short_text, values), max_size=6))
    if pairs and draw(st.integers(0, 3)) == 0:  # one field of 100,000 characters
        index = draw(st.integers(0, len(pairs) - 1))
        pairs[index] = (pairs[index][0], draw(huge_values))
    if pairs and draw(st.integers(0, 5)) == 0:
        pairs = pairs + pairs  # every key twice
    headers = dict(draw(st.sampled_from(HTMX_HEADERS)))
    headers["Referer"] = draw(st.sampled_from(["http://localhost/"] * 4 + ["", "https://evil.example/"]))
    if draw(st.integers(0, 4)) == 0:
        headers["Accept-Language"] = draw(st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=30))
    attempt = Attempt(
        "POST",
        draw(path_for(route)) + draw(query_strings()),
        draw(st.sampled_from(STATES)),
        headers,
        remote_addr=draw(st.sampled_from(["127.0.0.1", "10.0.0.7", "::1", "203.0.113.9"])),
        csrf=draw(st.sampled_from(["field"] * 6 + ["header", "twice", "junk", "none"])),
        encoding=draw(st.sampled_from(["urlencoded"] * 3 + ["multipart"] * 2 + ["raw", "json", "odd"])),
        pairs=pairs,
    )
    if attempt.encoding == "multipart":
        attempt.files = frozenset(draw(st.lists(st.integers(0, len(pairs)), max_size=2)))
        attempt.nameless = draw(st.booleans())
        attempt.boundary += draw(st.sampled_from([b"", b"-boundary", b"'quoted'"]))
    elif attempt.encoding == "json":
        attempt.json_body = draw(
            st.dictionaries(st.sampled_from(names + EXTRA_NAMES), json_values, max_size=8) | json_values
        )
    elif attempt.encoding == "odd":
        attempt.prefix = draw(st.binary(max_size=100))
        attempt.content_type = draw(st.sampled_from(ODD_CONTENT_TYPES))
    return attempt


def send(app, sessions, attempt: Attempt):
    session = sessions[attempt.state]
    client = client_in(app, session)
    headers, environ = dict(attempt.headers), {"REMOTE_ADDR": attempt.remote_addr}
    if attempt.method == "GET":
        return client.get(attempt.path, headers=headers, environ_base=environ)
    token = session.token or "no-session-token"
    pairs = list(attempt.pairs)
    if attempt.csrf in ("field", "twice"):
        pairs.insert(0, ("csrf_token", token))
    if attempt.csrf == "twice":
        pairs.append(("csrf_token", "junk-token"))
    if attempt.csrf == "junk":
        pairs.insert(0, ("csrf_token", "IjEyMyI.junk.junk"))
    if attempt.csrf == "header" or (attempt.encoding == "json" and attempt.csrf == "field"):
        headers["X-CSRFToken"] = token  # as HTMX sends it; a JSON body has no form field for it
    content_type = "application/x-www-form-urlencoded"
    if attempt.encoding == "multipart":
        data = multipart(pairs, attempt.files, attempt.boundary, attempt.nameless)
        content_type = "multipart/form-data; boundary=" + attempt.boundary.decode()
    elif attempt.encoding == "raw":
        data = b"&".join(as_bytes(k) + b"=" + as_bytes(v) for k, v in pairs)
    elif attempt.encoding == "json":
        data, content_type = json.dumps(attempt.json_body).encode(), "application/json"
    elif attempt.encoding == "odd":
        data, content_type = attempt.prefix + urlencode(pairs), attempt.content_type
    else:
        data = urlencode(pairs)
    return client.open(
        attempt.path, method="POST", data=data, content_type=content_type, headers=headers, environ_base=environ
    )


@st.composite
def page_gets(draw, routes: list[Route]) -> Attempt:
    route = draw(st.sampled_from(routes))
    headers = dict(draw(st.sampled_from(HTMX_HEADERS)))
    if draw(st.integers(0, 3)) == 0:
        headers["Range"] = draw(
            st.sampled_from(
                ["bytes=0-1", "bytes=-5", "bytes=9-2", "bytes=0-0,5-", "items=1", "bytes=99999999999999999999-"]
            )
        )
    if draw(st.integers(0, 3)) == 0:
        headers["Cookie"] = "lang=" + draw(st.sampled_from(["fr", "en", "xx", "%00", "\x7f"]))
    if draw(st.integers(0, 4)) == 0:
        headers["Accept-Language"] = draw(st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=30))
    return Attempt("GET", draw(path_for(route)) + draw(query_strings()), draw(st.sampled_from(STATES)), headers)


# --- the tests ---------------------------------------------------------------------------------


@pytest.fixture
def fuzz_target(app, tmp_path):
    load(app, tmp_path, STORIES[:1])
    sessions = build_sessions(app)
    return app, discover_routes(app, rendered_forms(app, sessions)), sessions


def test_routes_and_fields_are_discovered(fuzz_target):
    """The fields found in the views' forms are the ones the rendered pages post."""
    app, routes, sessions = fuzz_target
    from_views = {route.rule: set(route.fields) for route in discover_routes(app) if "POST" in route.methods}
    assert {"email", "password", "confirm", "first_name", "accept_conditions"} <= from_views["/account/register"]
    assert {"code"} <= from_views["/account/verify"] and {"code"} <= from_views["/account/reset/code"]
    assert {"new_email", "email_password"} <= from_views["/account/email"]
    pages = rendered_forms(app, sessions)
    assert {"credential", "next"} <= from_views["/account/login/passkey"] and "/account/login/passkey" in pages
    assert {"factor_password"} <= from_views["/account/two-step/passkeys/<id:passkey_id>/remove"]
    assert {"code"} <= from_views["/account/email/code"] and "/account/email/code" in pages  # a state that waits for it
    assert len(pages) >= 12, sorted(pages)
    for action, names in pages.items():
        assert action in from_views, action
        # "next" is the one input a view may read without a form (log out)
        assert names <= from_views[action] | {"next"}, (action, names - from_views[action])


def test_form_posts_never_fail(fuzz_target, error_log):
    app, routes, sessions = fuzz_target
    post_routes = [route for route in routes if "POST" in route.methods]
    assert len(post_routes) >= 14

    for route in post_routes:  # each route gets its own examples

        @FUZZ
        @given(attempt=form_posts([route]))
        def run(attempt):
            error_log.records.clear()
            response = send(app, sessions, attempt)
            assert_sound(response, error_log, attempt)
            check_invariants(app)

        run()


def test_pages_with_junk_queries_never_fail(fuzz_target, error_log):
    app, routes, sessions = fuzz_target
    get_routes = [route for route in routes if "GET" in route.methods]
    assert len(get_routes) >= 15

    for route in get_routes:

        @FUZZ
        @given(attempt=page_gets([route]))
        def run(attempt):
            error_log.records.clear()
            assert_sound(send(app, sessions, attempt), error_log, attempt)

        run()
    check_invariants(app)


def test_query_parameters_are_discovered():
    """The names the views, flows and templates read or link with are all found (a new one is fuzzed
    without being listed anywhere)."""
    assert {"q", "page", "from", "to", "category", "lang", "next", "download", "unverified", "intent"} <= set(
        QUERY_NAMES
    )


def real_path(route: Route) -> str:
    """The route's path with arguments that name something in the fuzz catalogue, so that the view
    gets as far as reading its query (the first story, its preview, its video)."""
    real = {
        "slug": STORIES[0]["slug"],
        "rendition_id": "2",
        "video_id": "1",
        "filename": "css/portal.css",
        "language": "fr",
        "category_slug": "exercises",
    }
    return ARGUMENT.sub(lambda match: real.get(match.group(1), "x"), route.rule)


def test_every_query_parameter_of_every_page_at_its_edges(fuzz_target, error_log):
    """Every GET route of the URL map, with each discovered parameter (and junk names) given each
    edge value in turn, one parameter at a time and then all at once; from a different session
    state each time. (A ``to`` of 9999-12-31 was a 500.)"""
    app, routes, sessions = fuzz_target
    get_routes = [route for route in routes if "GET" in route.methods]
    names, sent = QUERY_NAMES + JUNK_QUERY_NAMES, 0
    for route in get_routes:
        path = real_path(route)
        attempts = [[(name, EDGE_VALUES[(i + j) % len(EDGE_VALUES)])] for i, name in enumerate(names) for j in range(4)]
        attempts += [[(name, value) for name in names] for value in EDGE_VALUES]
        for pairs in attempts:
            state = STATES[sent % len(STATES)]
            headers = HTMX_HEADERS[sent % len(HTMX_HEADERS)]
            prefix = LANGUAGE_PREFIXES[sent // len(STATES) % len(LANGUAGE_PREFIXES)]  # every state in each language
            attempt = Attempt("GET", prefix + path + "?" + urlencode(pairs).decode(), state, dict(headers))
            error_log.records.clear()
            assert_sound(send(app, sessions, attempt), error_log, attempt)
            sent += 1
    check_invariants(app)
    assert sent >= len(get_routes) * len(EDGE_VALUES)


def test_nul_in_every_field(fuzz_target, error_log):
    """Each field of each form, in turn, with a NUL in an otherwise plausible form (the classic
    PostgreSQL 500), from every state that has a CSRF token; urlencoded and multipart in turn."""
    app, routes, sessions = fuzz_target
    sent = 0
    for route in (route for route in routes if "POST" in route.methods and route.fields):
        plausible = [(name, PLAUSIBLE.get(name, ["x"])[0]) for name in route.fields]
        for index, (name, value) in enumerate(plausible):
            pairs = plausible[:index] + [(name, value[:2] + "\x00" + value[2:])] + plausible[index + 1 :]
            for number, state in enumerate(state for state in STATES if sessions[state].token):
                attempt = Attempt(
                    "POST",
                    plain_path(route),
                    state,
                    {"Referer": "http://localhost/"},
                    csrf="field",
                    encoding=("urlencoded", "multipart")[(index + number) % 2],
                    pairs=pairs,
                )
                error_log.records.clear()
                assert_sound(send(app, sessions, attempt), error_log, attempt)
                sent += 1
    check_invariants(app)
    assert sent >= 100


def plain_path(route: Route) -> str:
    """The route's path with plain values for its arguments."""
    return ARGUMENT.sub(lambda match: "1" if dict(route.arguments)[match.group(1)] else "x", route.rule)


# --- what the fuzzer found, kept as plain examples -------------------------------------------


def multipart_body(parts: list[tuple[bytes, bytes]], boundary: bytes = b"fuzz") -> bytes:
    """``parts``: (Content-Disposition parameters, value)."""
    body = b"".join(
        b"--" + boundary + b"\r\nContent-Disposition: form-data" + params + b"\r\n\r\n" + value + b"\r\n"
        for params, value in parts
    )
    return body + b"--" + boundary + b"--\r\n"


def test_a_multipart_part_without_a_name_is_no_field(client):
    """Werkzeug files a part without a name under the key None; Flask-WTF's CSRF check then failed
    on it with a 500 whenever the token was not among the named fields."""
    token = csrf_token(client).encode()
    nameless = (b"", b"nameless")
    for parts, status in (
        ([nameless], 400),  # no token: the form has expired, said plainly
        ([nameless, (b'; name="csrf_token"; filename="t.txt"', token)], 400),  # the token as a file
        ([nameless, (b'; name="csrf_token"', token), (b'; name="email"', b"x")], 422),
    ):
        response = client.post(
            "/account/register", data=multipart_body(parts), content_type="multipart/form-data; boundary=fuzz"
        )
        assert response.status_code == status, parts
        assert "Traceback" not in response.get_data(as_text=True)


def test_file_parts_and_json_bodies_are_not_form_fields(client, app):
    """Flask-WTF hands a form uploaded files and the values of a JSON body too; a text validator
    then met a FileStorage or a number (a 500). The forms read form fields only."""
    token = csrf_token(client)
    fields = registration()
    as_file = [
        (f'; name="{name}"'.encode() + (b'; filename="f.txt"' if name == "email" else b""), value.encode())
        for name, value in fields.items()
    ] + [(b'; name="csrf_token"', token.encode())]
    response = client.post(
        "/account/register", data=multipart_body(as_file), content_type="multipart/form-data; boundary=fuzz"
    )
    assert response.status_code == 422
    assert "Enter your email address." in response.get_data(as_text=True)
    for url, body in (
        ("/account/register", {**fields, "email": 5}),
        ("/account/register", {"first_name": ["A"]}),
        ("/account/login", {"email": {"a": 1}, "password": None}),
        ("/account/reset", [1, 2]),
        ("/account/reset", "text"),
        ("/account/verify", {"code": 123456}),
    ):
        response = client.post(url, json=body, headers={"X-CSRFToken": token})
        assert response.status_code in (409, 422), (url, body, response.status_code)
    assert nothing_written(app)


@pytest.mark.parametrize(
    "number", ["2147483647", "2147483648", "9223372036854775807", "999999999999999999", "99999999999999999999999"]
)
def test_ids_beyond_the_id_columns_are_no_page(client, number):
    """The id columns are 32-bit on PostgreSQL; a larger id in a URL was an out-of-range error there."""
    for path in ("/media/preview/", "/media/poster/", "/download/"):
        response = client.get(path + number)
        assert response.status_code == 404, (path, response.status_code)
        assert "Page not found" in response.get_data(as_text=True)
