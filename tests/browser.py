"""What the browser tests share: Debian's chromium and its flags, the artifacts folder, the
chat page's turns as drawn, logging in through the form, waiting for the next drawn frame, and
a serverless page of the chat's static modules (`static_harness`). The `browser_page` fixture
(a page on the live site) is in conftest.py."""

from __future__ import annotations

import mimetypes
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright

from tests.live_site import PASSWORD

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update"]
CHAT_SOCKET = re.compile(r"/ws/chat/$")  # the chat WebSocket, for page.route_web_socket
FINISHED = ".turn[data-status=completed], .turn[data-status=cancelled], " \
           ".turn[data-status=failed], .turn[data-status=length]"

# What a turn shows, read from the page: compared before and after a reload.
DRAWN = """(turn) => {
  const q = (s) => turn.querySelector(`[data-slot=${s}]`);
  return {
    user: q("user-text").textContent, status: turn.dataset.status, chip: q("status-text").textContent,
    effort: q("effort").textContent, model: q("model").textContent,
    analysis: q("analysis").hidden ? null : q("analysis-body").textContent,
    tools: q("tools").hidden ? null : q("tools-body").textContent,
    final: q("final-body").innerHTML, placeholder: q("final-placeholder").hidden ? null : q("final-placeholder").textContent,
    error: q("error").hidden ? null : q("error").textContent,
    metrics: q("metrics").hidden ? null : q("metrics").textContent,
  };
}"""


def drawn_turns(page):
    return page.eval_on_selector_all(".turn", f"(turns) => turns.map({DRAWN})")


def log_in(page, site):
    """Through the login form, as the live site's user; the chat opens with a live socket."""
    page.goto(site.base + "/")
    assert "/accounts/login/" in page.url
    page.fill("input[name=username]", "e2e")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(site.base + "/")
    expect(page.locator("#conn")).to_have_attribute("data-state", "open", timeout=20000)


def after_the_next_frame(page):
    """Wait until the page has drawn its next animation frame (the turn view draws in one)."""
    page.evaluate("() => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)))")


AXE = ROOT / "tests" / "vendor" / "axe-core" / "axe.min.js"  # static/vendor/refresh.sh
SERIOUS = ("serious", "critical")


def axe_violations(page, context: str | None = None) -> list[dict]:
    """axe-core's serious and critical violations on the page as drawn now (or inside the
    `context` selector), each as its rule id, impact, help text and the failing elements.
    The script is evaluated through the DevTools protocol, which the page's CSP does not
    restrict (it forbids inline scripts)."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(AXE.read_text(encoding="utf-8"))
    results = page.evaluate(
        "async (context) => axe.run(context ? document.querySelector(context) : document, "
        "{resultTypes: ['violations']})", context)
    return [{"id": v["id"], "impact": v["impact"], "help": v["help"],
             "nodes": [" ".join(n["target"]) for n in v["nodes"]]}
            for v in results["violations"] if v["impact"] in SERIOUS]


def assert_accessible(page, context: str | None = None):
    """No serious or critical axe-core violation on the page (the product's bar)."""
    violations = axe_violations(page, context)
    assert not violations, "axe-core found:\n" + "\n".join(
        f"- {v['id']} ({v['impact']}): {v['help']} — {len(v['nodes'])} elements, e.g. "
        f"{v['nodes'][:3]}" for v in violations)


HARNESS_ORIGIN = "http://ui.test"


def markdown_libraries() -> str:
    """The chat page's tags for the libraries static/chat/markdown.js uses (its template
    templates/chat/markdown_libraries.html), with their static paths."""
    template = (ROOT / "templates/chat/markdown_libraries.html").read_text()
    template = re.sub(r"\{% static '([^']+)' %\}", r"/static/\1", template)
    return re.sub(r"\{%.*?%\}|\{#.*?#\}", "", template)


def static_harness(body: str, script: str):
    """Yields a page of Debian's chromium, with no server, holding `body`, the Markdown
    libraries and app.css, and the ES module `script` (which sets window.ready), served with
    the site's Content-Security-Policy from this checkout's static/. Errors thrown in the page
    and CSP violations fail the test."""
    from django.conf import settings

    if not Path(CHROMIUM).exists():
        pytest.skip(f"the browser tests need Debian's chromium at {CHROMIUM} (apt-get install chromium)")
    html = (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>harness</title>'
            f'{markdown_libraries()}<link rel="stylesheet" href="/static/css/app.css">'
            f'<script type="module" src="/harness.js"></script></head><body>{body}</body></html>')

    def serve(route):
        path = route.request.url[len(HARNESS_ORIGIN):].split("?")[0]
        if path.startswith("/static/"):
            file = ROOT / path.lstrip("/")
            kind = "text/javascript" if file.suffix == ".js" else mimetypes.guess_type(file.name)[0]
            route.fulfill(path=file, content_type=kind)
        elif path == "/harness.js":
            route.fulfill(body=script, content_type="text/javascript")
        else:
            route.fulfill(body=html, content_type="text/html",
                          headers={"Content-Security-Policy": settings.CONTENT_SECURITY_POLICY})

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page()
        errors = []
        page.on("pageerror", lambda error: errors.append(error))
        page.on("console", lambda message: errors.append(message.text[:120])
                if "Content Security Policy" in message.text else None)
        page.route(f"{HARNESS_ORIGIN}/**", serve)
        page.goto(HARNESS_ORIGIN + "/")
        page.wait_for_function("window.ready === true")
        yield page
        browser.close()
        assert not errors, errors
