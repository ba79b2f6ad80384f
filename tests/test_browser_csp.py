"""The pages under their Content-Security-Policy in a real browser (Debian chromium): the site's
own pages (chat, tokenizer, usage, login, admin), rendered by Django with their headers and served to
the browser with the static files, run their scripts with no CSP violation; the chat page's
socket opens (to a WebSocket route standing in for the server). A control page with an inline
script shows the policy is enforced: the script is blocked and the violation seen."""

from __future__ import annotations

import mimetypes
from pathlib import Path

import pytest
from django.contrib.staticfiles import finders
from django.test import Client
from playwright.sync_api import sync_playwright

from tests.browser import CHROMIUM, CHROMIUM_ARGS

pytestmark = pytest.mark.django_db
HOST = "csp.test"
ORIGIN = f"http://{HOST}"
WATCH = """
window.violations = [];
document.addEventListener("securitypolicyviolation",
  (e) => window.violations.push(`${e.violatedDirective} ${e.blockedURI}`));
"""


def rendered(client: Client, path: str) -> dict:
    response = client.get(path, HTTP_HOST=HOST)
    assert response.status_code == 200, path
    return {"status": 200, "body": response.content.decode(),
            "headers": {"Content-Type": response["Content-Type"],
                        "Content-Security-Policy": response["Content-Security-Policy"]}}


@pytest.fixture
def pages(settings, ada):
    settings.ALLOWED_HOSTS = [HOST]
    ada.is_staff = ada.is_superuser = True
    ada.save()
    anonymous, client = Client(), Client()
    client.force_login(ada)
    served = {"/accounts/login/": rendered(anonymous, "/accounts/login/")}
    for path in ("/", "/tokenizer/", "/usage/", "/admin/", "/admin/auth/user/add/"):
        served[path] = rendered(client, path)
    control = dict(served["/accounts/login/"])
    control["body"] = control["body"].replace(
        "</body>", "<script>window.inlineRan = true;</script></body>")
    served["/control/"] = control
    return served


@pytest.fixture(scope="module")
def sync_db_beside_playwright():
    """Playwright's sync API keeps an event loop in this thread, which Django takes for an
    async context; the tests' database calls are plain synchronous ones in this thread, made
    while the browser waits for nothing."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        yield


@pytest.fixture(scope="module")
def browser(sync_db_beside_playwright):
    if not Path(CHROMIUM).exists():
        pytest.skip(f"the browser tests need Debian's chromium at {CHROMIUM} (apt-get install chromium)")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def browser_page(browser, pages):
    def serve(route):
        path = route.request.url[len(ORIGIN):].split("?")[0]
        if path.startswith("/static/"):
            found = finders.find(path[len("/static/"):])
            if found:
                kind = "text/javascript" if found.endswith(".js") else mimetypes.guess_type(found)[0]
                return route.fulfill(path=found, content_type=kind)
        elif path in pages:
            return route.fulfill(**pages[path])
        route.fulfill(status=404, body="not here")

    page = browser.new_page()
    page.add_init_script(WATCH)
    page.route(f"{ORIGIN}/**", serve)
    page.route_web_socket(f"ws://{HOST}/ws/chat/", lambda ws: None)  # open, silent
    page.console = []
    page.on("console", lambda message: page.console.append(message.text))
    page.errors = []
    page.on("pageerror", lambda error: page.errors.append(error))
    yield page
    page.close()


def visit(page, path: str):
    page.console.clear()
    page.goto(ORIGIN + path)
    page.wait_for_load_state("load")


def no_violations(page):
    assert page.evaluate("window.violations") == []
    assert not [m for m in page.console if "Content Security Policy" in m], page.console
    assert not page.errors, page.errors


def test_the_chat_page_runs_under_its_csp_and_opens_its_socket(browser_page):
    visit(browser_page, "/")
    browser_page.wait_for_selector("#conn[data-state=open]", timeout=10_000)
    assert browser_page.inner_text("#conn") == "Connected"
    browser_page.fill("#composer-text", "Hello")
    assert browser_page.is_enabled("#send"), "the composer's script runs"
    no_violations(browser_page)


def test_the_tokenizer_page_runs_under_its_csp(browser_page):
    visit(browser_page, "/tokenizer/")
    browser_page.click(".tok-example >> nth=0")  # the script fills the example in
    browser_page.wait_for_function("() => document.querySelector('#tok-text').value.length > 0")
    assert "/ 10,000 characters" in browser_page.inner_text("#tok-length")
    no_violations(browser_page)


def test_the_usage_page_draws_its_charts_under_its_csp(browser_page):
    visit(browser_page, "/usage/")
    browser_page.wait_for_function("() => Chart.getChart('chart-tokens')?.data.labels.length === 30")
    no_violations(browser_page)


@pytest.mark.parametrize("path", ["/accounts/login/", "/admin/", "/admin/auth/user/add/"])
def test_the_login_and_admin_pages_raise_no_violation(browser_page, path):
    visit(browser_page, path)
    browser_page.wait_for_timeout(300)
    no_violations(browser_page)


def test_an_inline_script_is_blocked_by_the_policy(browser_page):
    visit(browser_page, "/control/")
    browser_page.wait_for_function("() => window.violations.length > 0")
    assert browser_page.evaluate("window.inlineRan") is None
    assert browser_page.evaluate("window.violations")[0].startswith("script-src")
