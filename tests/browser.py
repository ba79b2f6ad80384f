"""What the browser tests share: Debian's chromium and its flags, the artifacts folder, the
chat page's turns as drawn, logging in through the form and waiting for the next drawn frame.
The `browser_page` fixture (a page on the live site) is in conftest.py."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import expect

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
