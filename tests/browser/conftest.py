"""Browser fixtures: one Chromium (Debian's /usr/bin/chromium) for the session, a fresh context
per page with JavaScript on or off, and screenshots for humans in test-artifacts/screenshots/."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from ..helpers.browser import CHROMIUM, CHROMIUM_ARGS, TIMEOUT_MS, PageLog

HERE = Path(__file__).parent


def pytest_collection_modifyitems(config, items):
    for item in items:
        if HERE in Path(str(item.path)).parents:
            item.add_marker(pytest.mark.browser)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, f"report_{report.when}", report)  # lets the page fixture see a failed test
    return report


def _no_browser(reason: str):
    if os.environ.get("REQUIRE_BROWSER"):
        pytest.fail(f"REQUIRE_BROWSER is set but {reason}", pytrace=False)
    pytest.skip(reason)  # only without chromium, and never when REQUIRE_BROWSER is set (CI)


@pytest.fixture(scope="session")
def playwright_driver():
    if not os.path.exists(CHROMIUM):
        _no_browser(f"chromium not installed (expected at {CHROMIUM})")
    try:
        from playwright.sync_api import expect, sync_playwright
    except ImportError:  # pragma: no cover - playwright is in the test extras
        _no_browser("the playwright package is not installed (chromium tests need it)")
    expect.set_options(timeout=TIMEOUT_MS)
    with sync_playwright() as pw:
        yield pw


@pytest.fixture(scope="session")
def browser(playwright_driver):
    try:
        browser = playwright_driver.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
    except Exception as exc:  # a broken chromium is as good as none
        _no_browser(f"chromium at {CHROMIUM} could not be started: {exc}")
    yield browser
    browser.close()


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-")


@pytest.fixture
def screenshot_dir(request) -> Path:
    path = Path(request.config.rootpath) / "test-artifacts" / "screenshots"
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture
def shot(request, screenshot_dir):
    """``shot(page, "code-step")`` saves ``<testname>-code-step.png``: the whole page, or just the
    viewport while a modal dialog is open (its backdrop only covers the viewport)."""
    test_name = _slug(request.node.name)
    for stale in screenshot_dir.glob(f"{test_name}-*.png"):  # e.g. a -FAILED shot of an earlier run
        stale.unlink()

    def take(page, step: str, *, full_page: bool | None = None) -> Path:
        path = screenshot_dir / f"{test_name}-{_slug(step)}.png"
        if full_page is None:
            full_page = page.locator("dialog[open]").count() == 0
        page.screenshot(path=str(path), full_page=full_page)
        return path

    return take


@pytest.fixture
def new_page(browser, request, shot):
    """Factory: ``new_page(java_script_enabled=False, base_url=...)`` gives a page in a fresh
    context (own cookies) with ``page.log`` (a PageLog). A failing test leaves a ``-FAILED`` shot."""
    contexts, pages = [], []

    def make(*, java_script_enabled: bool = True, base_url: str | None = None, **options):
        options.setdefault("viewport", {"width": 1100, "height": 850})
        context = browser.new_context(java_script_enabled=java_script_enabled, base_url=base_url, **options)
        context.set_default_timeout(TIMEOUT_MS)
        context.set_default_navigation_timeout(TIMEOUT_MS)
        contexts.append(context)
        page = context.new_page()
        page.log = PageLog(page, javascript=java_script_enabled)
        pages.append(page)
        return page

    yield make
    failed = any(getattr(getattr(request.node, f"report_{when}", None), "failed", False) for when in ("setup", "call"))
    for number, page in enumerate(pages):
        if failed and not page.is_closed():
            try:
                shot(page, f"FAILED-{number}" if len(pages) > 1 else "FAILED")
            except Exception:
                pass
    for context in contexts:
        context.close()
