"""What the browser tests share: Debian's chromium and its flags, the artifacts folder, the
chat page's turns as drawn, logging in through the form, waiting for the next drawn frame, and
a serverless page of the chat's static modules (`static_harness`). The `browser_page` fixture
(a page on the live site) is in conftest.py."""

from __future__ import annotations

import json
import mimetypes
import re
import subprocess
import sys
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


def site_shell(site, script: str, **env) -> dict:
    """Runs `script` in a manage.py shell of the live site (its database, Redis and settings;
    `env` added to its environment) and returns the JSON its last printed line holds."""
    run = subprocess.run([sys.executable, "manage.py", "shell", "-c", script], cwd=ROOT,
                         env={**site.env, **env}, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads(run.stdout.strip().splitlines()[-1])


# A turn run by the worker's own code (webapp.chat.tasks) on a scripted engine in the site's
# database: a calculator call, then an analysis and the answer (or the generations and settings
# given as JSON in COMPLETIONS and SETTINGS). Prints the stored turn.
SCRIPTED_TURN = """
import json, os
from django.contrib.auth import get_user_model
from tests.scripted_engine import ScriptedEngine, calculator_call, final_answer
from webapp.chat import tasks, worker
from webapp.chat.models import Conversation, Turn
from webapp.chat.replay import turn_frames
user = get_user_model().objects.get(username="e2e")
conversation = Conversation.objects.create(user=user, title=os.environ["QUESTION"])
settings = json.loads(os.environ["SETTINGS"]) if "SETTINGS" in os.environ else {"builtin_tools": ["calculator"]}
turn = Turn.objects.create(conversation=conversation, request_id="scripted", effort="high",
    user_text=os.environ["QUESTION"], settings=settings, status="queued")
completions = json.loads(os.environ["COMPLETIONS"]) if "COMPLETIONS" in os.environ else [
    calculator_call("12 * 34"), "<|channel|>analysis<|message|>The calculator says 408.<|end|>"
    "<|start|>assistant" + final_answer(os.environ["ANSWER"])]
worker._engine = ScriptedEngine(*completions)
tasks.execute(turn.id, "w-scripted", resume=False)
turn = Turn.objects.prefetch_related("messages").get(pk=turn.id)
print(json.dumps({"conversation_id": conversation.id, "turn_id": turn.id, "status": turn.status,
                  "frames": turn_frames(turn)}))
"""


def scripted_turn(site, question: str, answer: str = "", completions: list[str] | None = None,
                  settings: dict | None = None) -> dict:
    """The live site's user asked `question`; the worker's code ran the turn on a scripted
    engine (calculator call, analysis, `answer` as the final message; or `completions`, raw
    harmony, one a generation, under `settings`) and stored it, with its metrics. Returns its
    conversation_id, turn_id, status and replayed frames."""
    env = {"QUESTION": question, "ANSWER": answer}
    if completions is not None:
        env["COMPLETIONS"] = json.dumps(completions)
    if settings is not None:
        env["SETTINGS"] = json.dumps(settings)
    return site_shell(site, SCRIPTED_TURN, **env)


def in_pieces(frames, size=7):
    """A turn's frames as a worker streams them: deltas in short pieces, every frame `seq`d."""
    out = []
    for frame in frames:
        if frame["type"] == "message.delta":
            text = frame["text"]
            out += [{**frame, "text": text[i:i + size]} for i in range(0, len(text), size)]
        else:
            out.append(frame)
    return [{**frame, "seq": n} for n, frame in enumerate(out)]


def answer_with_stored_turn(page, stored: dict, size=7):
    """From now on the page's chat socket ends at a stand-in for the site that answers pings,
    and answers a turn.create with the stored turn (`stored`: conversation_id, turn_id and
    the frames webapp/chat/replay.py rebuilt) streamed in pieces of `size` characters.
    Reload the page for its socket to reconnect there."""
    frames = in_pieces(stored["frames"][1:], size)

    def site_stand_in(ws):
        def answer(message):
            frame = json.loads(message)
            if frame["type"] == "ping":
                ws.send(json.dumps({"type": "pong"}))
            elif frame["type"] == "turn.create":
                ws.send(json.dumps({"type": "turn.queued", "request_id": frame["request_id"],
                                    "conversation_id": stored["conversation_id"],
                                    "turn_id": stored["turn_id"], "queue_position": 0, "next_seq": 0}))
                for item in frames:
                    ws.send(json.dumps(item))
        ws.on_message(answer)

    page.route_web_socket(CHAT_SOCKET, site_stand_in)


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
        page.wait_for_function("() => window.ready === true")
        yield page
        browser.close()
        assert not errors, errors


# The controls a keyboard user can reach on the page as drawn, in document order: visible,
# enabled, not inert nor taken out of the tab order; of a radio group only its checked radio (Tab
# enters the group there, the arrow keys move within it).
FOCUSABLE = """() => {
  const controls = [...document.querySelectorAll(
    "a[href], button, input:not([type=hidden]), select, textarea, summary, [tabindex]")];
  window.focusable = controls.filter((el) => !el.disabled && el.tabIndex >= 0 && !el.closest("[inert]") &&
    (el.checkVisibility() || (el.type === "radio" && el.closest("label")?.checkVisibility())) &&
    !(el.type === "radio" && !el.checked && document.querySelector(`input[type=radio][name="${el.name}"]:checked`)));
  return window.focusable.length;
}"""
# Where the focused control's focus ring is drawn: the control, or the box that shows it.
RING_BOX = """() => {
  const el = document.activeElement;
  const box = (el.closest(".composer-box, .effort-opt") ?? el).getBoundingClientRect();
  return { index: window.focusable.indexOf(el), x: box.x - 5, y: box.y - 5,
           width: box.width + 10, height: box.height + 10 };
}"""


def assert_keyboard_reachable(page):
    """Tab reaches every control of the page once, in document order (no tabindex reorders
    it), and each shows a visible focus ring: the pixels around it differ, focused and not."""
    count = page.evaluate(FOCUSABLE)
    for _ in range(count + 2):  # from wherever focus is (autofocus) round to the first control
        page.keyboard.press("Tab")
        if page.evaluate("() => focusable.indexOf(document.activeElement)") == 0:
            break
    order = []
    for _ in range(count):
        ring = page.evaluate(RING_BOX)
        order.append(ring["index"])
        clip = {k: ring[k] for k in ("x", "y", "width", "height")}
        focused = page.screenshot(clip=clip, animations="disabled")
        page.evaluate("() => { window.lastFocused = document.activeElement; document.activeElement.blur(); }")
        unfocused = page.screenshot(clip=clip, animations="disabled")
        assert focused != unfocused, f"no visible focus on control {ring['index']}: " + page.evaluate(
            "() => lastFocused.outerHTML.slice(0, 200)")
        page.evaluate("() => lastFocused.focus({ preventScroll: true })")
        page.keyboard.press("Tab")
    assert order == list(range(count)), f"tab order {order} is not the document order"
