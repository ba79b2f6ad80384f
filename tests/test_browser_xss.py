"""Hostile model output in every channel, in a real browser (Debian chromium): nothing it holds
runs or becomes markup, live or after a reload.

A turn stored in the real site's database (tests/live_site.py) has script payloads in its
analysis, in a tool call's arguments and the tool's output (commentary), in a preamble and in its
final answer (raw HTML, `javascript:` and `data:` links in Markdown, `<svg onload>`, HTML
entities, math with `\\href` and `\\htmlClass`). Live: the chat page asks a question and
Playwright's WebSocket route answers in the site's place with that turn's frames
(webapp/chat/replay.py, `seq`-numbered, every delta cut into short pieces so that half-written
tags are drawn too). After a reload the site itself renders the stored turn.
Both times no dialog opens (every payload calls alert), no element or event handler is
injected, and the payloads are shown as text. Screenshots go to tests/artifacts/.
"""

from __future__ import annotations

import json

from playwright.sync_api import expect

from tests.browser import (ARTIFACTS, after_the_next_frame, answer_with_stored_turn, drawn_turns,
                           log_in, site_shell)

USER_TEXT = 'Show me <img src=x onerror=alert("user")> please'
ANALYSIS = ("Think <img src=x onerror=alert(1)> and <script>alert(2)</script> "
            "&lt;b&gt;not bold&lt;/b&gt; &#60;img src=x onerror=alert(3)&#62; <svg onload=alert(4)>")
ARGUMENTS = json.dumps({"expression": "<svg onload=alert(5)>", "note": "<img src=x onerror=alert(6)>"})
TOOL_OUTPUT = "<img src=x onerror=alert(7)><script>alert(8)</script>&amp;"
PREAMBLE = "<svg/onload=alert(9)> checking <a href=javascript:alert(10)>here</a>"
FINAL = "\n\n".join([
    "[click me](javascript:alert(11))",
    "[mixed case](JaVaScRiPt:alert(12))",
    "[entity](&#106;avascript:alert(13))",
    '<a href="javascript:alert(14)">raw link</a>',
    "![image](javascript:alert(15))",
    "<img src=x onerror=alert(16)>",
    "**<svg onload=alert(17)>**",
    "&lt;script&gt;alert(18)&lt;/script&gt; &#x3C;img src=x onerror=alert(19)&#x3E;",
    '<iframe src="javascript:alert(20)"></iframe>',
    "<details open ontoggle=alert(21)>x</details>",
    "`<img src=x onerror=alert(22)>`",
    "```html\n<script>alert(23)</script>\n```",
    "[data](data:text/html,<script>alert(24)</script>)",
    # aimed at the renderer's parts: KaTeX (untrusted: no \href, \url, \html…), linkify, DOMPurify
    r"Math $\href{javascript:alert(25)}{math link}$ and \(\url{javascript:alert(26)}\)",
    r"$$\htmlClass{injected}{x} \htmlId{injected}{y} \htmlStyle{position:fixed}{z}$$",
    "[data64](data:text/html;base64,PHNjcmlwdD5hbGVydCgyNyk8L3NjcmlwdD4=) <style>body{display:none}</style>",
    "https://example.com/<img src=x onerror=alert(28)> and <javascript:alert(29)>",
])
PAYLOADS = {"analysis": ANALYSIS, "arguments": ARGUMENTS, "tool_output": TOOL_OUTPUT,
            "preamble": PREAMBLE, "final": FINAL, "user_text": USER_TEXT}

# Made in the site's own database by a manage.py shell of the site (its environment).
STORE = """
import json, os
from django.contrib.auth import get_user_model
from django.utils import timezone
from inference import events
from webapp.chat.models import Conversation, Message, Turn
from webapp.chat.replay import turn_frames
p = json.loads(os.environ["XSS_PAYLOADS"])
user = get_user_model().objects.get(username="e2e")
conversation = Conversation.objects.create(user=user, title=p["user_text"][:80])
now = timezone.now()
turn = Turn.objects.create(conversation=conversation, request_id="xss", user_text=p["user_text"],
    effort="high", status="completed", model="nano", device="cpu", worker="w", started_at=now,
    finished_at=now, metrics={k: None for k in events.METRIC_KEYS} | {"effort": "high"})
rows = [
    dict(role="assistant", channel="analysis", text=p["analysis"]),
    dict(role="assistant", channel="commentary", recipient="functions.calculator",
         content_type="<|constrain|>json", text=p["arguments"], call_id="c1"),
    dict(role="tool", author="functions.calculator", channel="commentary", recipient="assistant",
         text=p["tool_output"], call_id="c1", tool_ms=0.3),
    dict(role="assistant", channel="commentary", text=p["preamble"]),
    dict(role="assistant", channel="final", text=p["final"]),
]
for index, row in enumerate(rows):
    Message.objects.create(turn=turn, index=index, tokens=5, **row)
turn = Turn.objects.prefetch_related("messages").get(pk=turn.pk)
print(json.dumps({"conversation_id": conversation.id, "turn_id": turn.id, "frames": turn_frames(turn)}))
"""

# What the page holds that it should not: elements the payloads would make, event handler
# attributes anywhere, links that are not http(s); and the text the panes show.
INJECTED = """() => {
  const bodies = [...document.querySelectorAll(
    ".turn [data-slot=analysis-body], .turn [data-slot=tools-body], .turn [data-slot=final-body], .turn [data-slot=user-text]")];
  const inside = (selector) => bodies.flatMap((b) => [...b.querySelectorAll(selector)]).map((n) => n.outerHTML);
  const handlers = [...document.querySelectorAll("*")].flatMap((n) =>
    [...n.attributes].filter((a) => a.name.startsWith("on")).map((a) => `${n.tagName} ${a.name}`));
  const links = [...document.querySelectorAll("a[href]")].map((a) => a.href).filter((h) => !/^https?:/.test(h));
  return {
    elements: inside("img, svg, script, iframe, details, object, embed, style, .injected, #injected"),
    handlers, links,
    text: Object.fromEntries(bodies.map((b) => [b.dataset.slot, b.textContent])),
  };
}"""


def assert_inert(page, dialogs, when):
    page.wait_for_timeout(300)  # an <img src=x> fails to load, an onerror would run, by now
    for link in page.locator(".turn [data-slot=final-body] a").all():
        link.click(modifiers=["Alt"])  # a javascript: target would run on a click
    found = page.evaluate(INJECTED)
    assert dialogs == [], f"{when}: a payload ran"
    assert found["elements"] == [], f"{when}: markup was injected"
    assert found["handlers"] == [] and found["links"] == [], when
    text = found["text"]
    assert text["user-text"] == USER_TEXT
    assert text["analysis-body"] == ANALYSIS, "the analysis is shown as written"
    for shown in ('"<svg onload=alert(5)>"', "<img src=x onerror=alert(7)><script>alert(8)</script>&amp;",
                  "<svg/onload=alert(9)> checking"):
        assert shown in text["tools-body"], (when, shown)
    # a Markdown link to an unsafe target keeps its label, unlinked; raw HTML is shown as text
    for shown in ("click me", "mixed case", '<a href="javascript:alert(14)">raw link</a>',
                  "<img src=x onerror=alert(16)>", "<svg onload=alert(17)>", "<script>alert(23)</script>",
                  '<iframe src="javascript:alert(20)"></iframe>', "<details open ontoggle=alert(21)>",
                  "<script>alert(18)</script>", "<style>body{display:none}</style>",
                  "<img src=x onerror=alert(28)>"):
        assert shown in text["final-body"], (when, shown)


def test_payloads_in_every_channel_run_nothing_live_or_after_reload(site, browser_page):  # noqa: F811
    page = browser_page
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    stored = site_shell(site, STORE, XSS_PAYLOADS=json.dumps(PAYLOADS))

    log_in(page, site)  # through the real site's socket
    answer_with_stored_turn(page, stored)
    page.reload()  # the chat socket now ends at the stand-in
    expect(page.locator("#conn")).to_have_attribute("data-state", "open", timeout=20000)
    page.click("label.effort-opt:has-text('High')")
    page.fill("#composer-text", USER_TEXT)
    page.keyboard.press("Enter")
    expect(page.locator(".turn").first).to_have_attribute("data-status", "completed", timeout=20000)
    after_the_next_frame(page)
    page.locator(".turn [data-slot=analysis] summary").click()  # folded once the answer came
    assert_inert(page, dialogs, "live")
    live = drawn_turns(page)
    page.screenshot(path=str(ARTIFACTS / "chat-xss-live.png"), full_page=True)

    assert page.url == f"{site.base}/c/{stored['conversation_id']}/"
    page.reload()  # the site draws the turn from its database (the turn has ended: no socket use)
    expect(page.locator(".turn")).to_have_count(1)
    after_the_next_frame(page)
    page.locator(".turn [data-slot=analysis] summary").click()
    assert_inert(page, dialogs, "after reload")
    assert drawn_turns(page) == live
    page.screenshot(path=str(ARTIFACTS / "chat-xss-reloaded.png"), full_page=True)
