"""The foundation: configuration, headers, health check, assets, migrations."""

import json
import re
from pathlib import Path

import pytest
from sqlalchemy import inspect

from app import create_app, search

from .helpers.databases import DATABASES
from .helpers.portal import _empty_database

ROOT = Path(__file__).resolve().parents[1]


def test_config_order_defaults_then_instance_file_then_environment(tmp_path, monkeypatch):
    instance = tmp_path / "instance"
    instance.mkdir()
    (instance / "config.py").write_text(
        "SECRET_KEY = 'from-file'\nMAIL_SERVER = 'file.example'\nMAIL_PORT = 2500\nPORTAL_NAME = 'File Portal'\n"
        "SERVER_NAME = 'file.example'\n"
    )
    monkeypatch.setenv("FLASK_MAIL_SERVER", "smtp.env.example")
    monkeypatch.setenv("FLASK_MAIL_PORT", "2525")
    monkeypatch.setenv("FLASK_MAIL_DEFAULT_SENDER", "Press Office <press@env.example>")
    monkeypatch.setenv("FLASK_RATELIMIT_STORAGE_URI", "redis://127.0.0.1:6379/0")
    monkeypatch.setenv("FLASK_SQLALCHEMY_DATABASE_URI", f"sqlite:///{tmp_path}/env.db")
    app = create_app({"INSTANCE_PATH": str(instance)})
    assert app.config["SECRET_KEY"] == "from-file"  # file beats defaults
    assert app.config["PORTAL_NAME"] == "File Portal"
    assert app.config["MAIL_SERVER"] == "smtp.env.example"  # environment beats the file
    assert app.config["MAIL_PORT"] == 2525
    assert app.config["MAIL_DEFAULT_SENDER"] == "Press Office <press@env.example>"
    assert app.config["RATELIMIT_STORAGE_URI"] == "redis://127.0.0.1:6379/0"
    assert app.config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path}/env.db"
    assert app.config["CODE_LIFETIME_SECONDS"] == 1800  # untouched default


def test_env_secret_key_and_postgres_url_use_psycopg3(tmp_path, monkeypatch):
    monkeypatch.setenv("FLASK_SECRET_KEY", "from-env")
    monkeypatch.setenv("FLASK_SERVER_NAME", "media.example.org")
    monkeypatch.setenv("FLASK_SQLALCHEMY_DATABASE_URI", "postgresql://postgres@127.0.0.1:5432/test")
    app = create_app({"INSTANCE_PATH": str(tmp_path)})
    assert app.config["SECRET_KEY"] == "from-env"
    assert app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql+psycopg://")


def test_missing_secret_key_in_production_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.delenv("FLASK_SECRET_KEY", raising=False)
    monkeypatch.delenv("FLASK_DEBUG", raising=False)
    with pytest.raises(RuntimeError, match="FLASK_SECRET_KEY"):
        create_app({"INSTANCE_PATH": str(tmp_path)})


def test_missing_server_name_in_production_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.delenv("FLASK_DEBUG", raising=False)
    monkeypatch.delenv("FLASK_SERVER_NAME", raising=False)
    with pytest.raises(RuntimeError, match="FLASK_SERVER_NAME"):
        create_app({"INSTANCE_PATH": str(tmp_path), "SECRET_KEY": "x"})


def test_mail_links_never_come_from_the_host_header(app):
    from app.urls import external_url

    app.config.update(SERVER_NAME="media.example.org", PREFERRED_URL_SCHEME="https")
    with app.test_request_context("/", headers={"Host": "evil.example"}):
        assert external_url("account.login") == "https://media.example.org/account/login"


def test_development_generates_and_keeps_a_secret_key(tmp_path, monkeypatch):
    monkeypatch.delenv("FLASK_SECRET_KEY", raising=False)
    monkeypatch.setenv("FLASK_DEBUG", "1")
    first = create_app({"INSTANCE_PATH": str(tmp_path)}).config["SECRET_KEY"]
    second = create_app({"INSTANCE_PATH": str(tmp_path)}).config["SECRET_KEY"]
    assert len(first) >= 64 and first == second
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def test_healthz_answers_when_the_database_does(client):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json == {"status": "ok", "database": "up"}


def test_healthz_says_503_when_the_database_is_down(tmp_path):
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "x",
            "INSTANCE_PATH": str(tmp_path),
            "SQLALCHEMY_DATABASE_URI": "postgresql://nobody@127.0.0.1:1/none",
        }
    )
    response = app.test_client().get("/healthz")
    assert response.status_code == 503


@pytest.mark.parametrize("path", ["/", "/conditions", "/account/register", "/account/login", "/nope"])
def test_security_headers_on_pages_and_errors(client, path):
    for headers in ({}, {"HX-Request": "true"}):
        response = client.get(path, headers=headers)
        csp = response.headers["Content-Security-Policy"]
        assert "unsafe-inline" not in csp and "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert "object-src 'none'" in csp and "base-uri 'none'" in csp
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] == "same-origin"
        assert "Strict-Transport-Security" not in response.headers


def test_hsts_over_https(client):
    response = client.get("/", base_url="https://portal.example")
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")


def test_account_pages_are_not_stored_but_public_pages_may_be(client):
    assert client.get("/account/login").headers["Cache-Control"] == "no-store"
    assert "no-store" not in client.get("/").headers.get("Cache-Control", "")


def test_no_inline_script_or_style_and_no_cdn_in_templates():
    for template in (ROOT / "app" / "templates").rglob("*.html"):
        if "mail" in template.parts:
            continue  # mails are not pages: mail clients need inline styles
        text = template.read_text()
        # a JSON-LD data block (app/templates/media/sharing.html) is no script: browsers never run it
        assert not re.search(r"<script(?![^>]*\bsrc=)(?! type=\"application/ld\+json\">)", text), template
        assert "<style" not in text and " style=" not in text, template
        assert "hx-on" not in text and "onclick" not in text, template
        assert "://" not in re.sub(r"https?://(www\.)?w3\.org", "", text), template


def test_htmx_2_is_pinned_and_served_from_static(client):
    package = json.loads((ROOT / "package.json").read_text())
    lock = json.loads((ROOT / "package-lock.json").read_text())
    assert re.fullmatch(r"2\.\d+\.\d+", package["dependencies"]["htmx.org"])
    assert lock["packages"]["node_modules/htmx.org"]["version"] == package["dependencies"]["htmx.org"]
    response = client.get("/static/vendor/htmx.min.js")
    assert response.status_code == 200 and b'version:"2.' in response.data
    assert 'includeIndicatorStyles":false' in client.get("/").get_data(as_text=True)


def test_migrations_build_exactly_the_models_schema(database_url, tmp_path):
    """`flask db upgrade` (not create_all) makes the schema, and it matches the models."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from flask_migrate import downgrade, upgrade

    from app.extensions import db

    app = create_app(
        {"TESTING": True, "SECRET_KEY": "x", "INSTANCE_PATH": str(tmp_path), "SQLALCHEMY_DATABASE_URI": database_url}
    )
    with app.app_context():
        _empty_database()
        upgrade(directory=str(ROOT / "migrations"))
        with db.engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"include_object": search.include_object})
            diff = compare_metadata(context, db.metadata)
        assert diff == []
        tables = set(inspect(db.engine).get_table_names())
        assert {
            "users",
            "verification_codes",
            "wrong_code_entries",
            "outbox",
            "stories",
            "renditions",
            "downloads",
            "story_search",
        } <= tables
        downgrade(directory=str(ROOT / "migrations"), revision="base")
        assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}
        db.engine.dispose()


def test_migrations_stand_alone():
    """No revision imports the app: an old revision running today's code would do something other
    than what it did when it was written, and one day break (docs/architecture.md, "Migrations")."""
    import ast

    for path in sorted((ROOT / "migrations" / "versions").glob("*.py")):
        tree = ast.parse(path.read_text("utf-8"))
        for node in ast.walk(tree):
            names = (
                [alias.name for alias in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom) and not node.level
                else []
            )
            assert not [name for name in names if name == "app" or name.startswith("app.")], path.name


WEB_LAYER = (
    "account",
    "media",
    "newsletter",
    "staff",
    "uploads",
    "rendering",
    "account_session",
    "security",
    "limits",
    "errors",
    "templating",
    "forms",
)


def _imports(path: Path) -> set[str]:
    """The modules (and names in them) ``path`` imports, as dotted names from the repository's root."""
    import ast

    package = path.relative_to(ROOT).with_suffix("").parts[:-1]  # ("app", "flows") for app/flows/x.py
    found = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.ImportFrom):
            base = list(package[: len(package) - node.level + 1]) if node.level else []
            module = ".".join(base + ([node.module] if node.module else []))
            found |= {module} | {f"{module}.{alias.name}" for alias in node.names}
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
    return found


def _app_imports(path: Path) -> set[str]:
    """The app modules ``path`` imports, as dotted names below ``app``."""
    return {name for name in _imports(path) if name == "app" or name.startswith("app.")}


def test_rules_and_mails_never_import_the_web_layer():
    """Layers point one way (docs/architecture.md): views call rules, rules queue mails; a rule or a
    mail that imported a view module would run web code where none belongs, and make cycles."""
    for path in sorted((ROOT / "app" / "flows").glob("[!_]*.py")) + [ROOT / "app" / "mails.py"]:
        upward = sorted(name for name in _app_imports(path) if (name.split(".") + [""])[1] in WEB_LAYER)
        assert not upward, f"{path.relative_to(ROOT)} imports {upward}"
    assert "app.mails" in _app_imports(ROOT / "app" / "flows" / "accounts.py")  # the parser sees relative imports


# The features: the packages directly below app/ (account, media, newsletter, staff, uploads), the
# rules in app/flows/ excepted.
FEATURES = {path.parent.name for path in (ROOT / "app").glob("*/__init__.py")} - {"flows"}


def _feature_of(name: str) -> str | None:
    """The feature a dotted module name (``app.account.login``) belongs to, if any."""
    parts = name.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in FEATURES else None


def test_no_feature_imports_another_features_modules():
    """A feature never reaches into another feature's views or forms (docs/architecture.md): what
    two share lives in one place both import (app/forms.py, app/staff_access.py, app/rendering.py)."""
    found = []
    for path in sorted((ROOT / "app").rglob("*.py")):
        own = _feature_of(".".join(path.relative_to(ROOT).with_suffix("").parts))
        if own is None:
            continue
        for name in _app_imports(path):
            other = _feature_of(name)
            if other is not None and other != own:
                found.append(f"{path.relative_to(ROOT)} ({own}) imports {name} ({other})")
    assert found == []


def test_no_feature_renders_another_features_templates():
    """Each feature's templates are under its own folder (account/, media/, newsletter/, staff/,
    uploads/); what two features show is in shared/ (docs/architecture.md). Allowed: the staff
    area's two packages (the story editor shows the upload panel, in the staff look), and its
    preview, which is the public story page itself with the staff bar."""
    import re

    allowed = {("staff", "uploads"), ("uploads", "staff"), ("staff", "media")}

    alternatives = "|".join(sorted(FEATURES))
    named = re.compile(rf"""["']((?:{alternatives})/[\w/.-]+\.(?:html|txt|xml))["']""")
    found = []
    for path in sorted((ROOT / "app").rglob("*")):
        if path.suffix not in (".py", ".html", ".txt", ".xml") or "static" in path.parts:
            continue
        relative = path.relative_to(ROOT / "app")
        own = relative.parts[1] if relative.parts[0] == "templates" else relative.parts[0]
        if own not in FEATURES:  # shared modules and templates (mails.py, base.html, shared/)
            continue
        for template in named.findall(path.read_text("utf-8")):
            other = template.split("/")[0]
            if other != own and (own, other) not in allowed:
                found.append(f"{relative} ({own}) names {template}")
    assert found == []


def test_tests_import_no_other_test_module_and_no_benchmark():
    """What tests share lives in tests/helpers/ (the fixtures in conftest.py), and what tests and
    benchmarks both run in harness/ (docs/architecture.md). A test module importing another ties
    the two files together (changing or removing one file's tests breaks the other), and a test
    importing bench/ depends on code written to report numbers."""
    found = []
    for path in sorted((ROOT / "tests").rglob("*.py")):
        for name in _imports(path):
            module = ROOT.joinpath(*name.split(".")).with_suffix(".py")
            if (module.name.startswith("test_") and module.is_file()) or name.split(".")[0] == "bench":
                found.append(f"{path.relative_to(ROOT)} imports {name}")
    assert found == []
    assert "tests.helpers.databases.DATABASES" in _imports(ROOT / "tests" / "test_app.py")  # relative imports seen


def test_search_key_revision_indexes_the_stories_already_there(database_url, tmp_path):
    """A catalogue from before the search key (e409c8b8e7ee) is indexed again on upgrade, with its
    shotlist and French translation, by SQL the revision carries itself. On SQLite the way down and
    back rebuilds the stories table: its videos and translations must survive that (foreign keys
    are off while migrations run, or ON DELETE CASCADE empties them)."""
    from flask_migrate import downgrade, upgrade

    from app.extensions import db
    from app.flows.catalogue import find_stories, parse_query

    from .helpers.catalogue_data import load, story_entry

    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "x",
            "INSTANCE_PATH": str(tmp_path),
            "SERVER_NAME": "localhost",
            "SQLALCHEMY_DATABASE_URI": database_url,
        }
    )
    with app.app_context():
        _empty_database()
        upgrade(directory=str(ROOT / "migrations"))
    entry = story_entry("keepers", "Lighthouse keepers", body="Foghorns and lanterns.")
    entry["translations"] = {"fr": {"title": "Gardiens de phare", "body": "Les cornes de brume."}}
    load(app, tmp_path, [entry])
    with app.app_context():
        downgrade(directory=str(ROOT / "migrations"), revision="e409c8b8e7ee")
        upgrade(directory=str(ROOT / "migrations"))
        for words in ("foghorn", "lighthouse", "wide shot", "gardiens", "brume"):
            assert [s.title for s in find_stories(parse_query({"q": words}), 24).stories] == ["Lighthouse keepers"], (
                words
            )
        db.session.remove()
        downgrade(directory=str(ROOT / "migrations"), revision="base")
        db.engine.dispose()


@pytest.mark.parametrize("database_url", [name for name in DATABASES if name == "postgresql"], indirect=True)
def test_upgrade_fills_the_search_vocabulary_of_a_catalogue_indexed_before_it(database_url, tmp_path):
    """A PostgreSQL catalogue indexed before search_words existed gets every word of its index in
    it on upgrade, so a word typed halfway finds its stories."""
    from flask_migrate import stamp, upgrade
    from sqlalchemy import text

    from app.extensions import db
    from app.flows.catalogue import find_stories, parse_query

    from .helpers.catalogue_data import load, story_entry

    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "x",
            "INSTANCE_PATH": str(tmp_path),
            "SERVER_NAME": "localhost",
            "SQLALCHEMY_DATABASE_URI": database_url,
        }
    )
    with app.app_context():
        _empty_database()
        upgrade(directory=str(ROOT / "migrations"))
    # the importer writes today's stories table, so the story goes in first and search_words goes
    # out after, as the revision before search_words left things; then that revision runs
    load(app, tmp_path, [story_entry("keepers", "Lighthouse keepers", body="Foghorns and lanterns.")])
    with app.app_context():
        with db.engine.begin() as connection:
            connection.exec_driver_sql("DROP TABLE search_words")
        stamp(directory=str(ROOT / "migrations"), revision="b09af7522596")
        upgrade(directory=str(ROOT / "migrations"), revision="c3a91d2e5f10")
        stamp(directory=str(ROOT / "migrations"), revision="head")
        words = set(db.session.execute(text("SELECT word FROM search_words")).scalars())
        assert {"lighthous", "keeper", "foghorn", "lantern"} <= words
        assert [s.title for s in find_stories(parse_query({"q": "foghorn lan"}), 24).stories] == ["Lighthouse keepers"]
        db.session.remove()
        db.engine.dispose()
