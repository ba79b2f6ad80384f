"""The chat page's ES modules in a real browser (Debian chromium), with no server: a turn view
fed protocol frames fills its panes, status, actions and metrics the way the live page does;
the socket and seq bookkeeping; the function tools editor. (The Markdown renderer's own
tests are in tests/test_browser_markdown.py.)"""

from __future__ import annotations

import json

import pytest

from tests.browser import ARTIFACTS, ROOT, after_the_next_frame, assert_accessible, static_harness

BODY = """%s
<div id="turns"></div>"""
SCRIPT = """
import { TurnView } from "/static/chat/turn_view.js";
import { parseTools } from "/static/chat/settings.js";
import { ChatSocket } from "/static/chat/socket.js";
import { sequence } from "/static/chat/sequence.js";
window.ChatSocket = ChatSocket;
window.sequence = (frames) => { const state = { nextSeq: null }; return frames.map((f) => sequence(state, f)); };
window.parseTools = (text) => { try { return parseTools(text); } catch (e) { return e.message; } };
window.sent = [];
window.makeTurn = (options) => {
  const actions = {
    cancel: (v) => sent.push({ type: "cancel", turn_id: v.turnId }),
    regenerate: (v, effort) => sent.push({ type: "regenerate", turn_id: v.turnId, effort }),
    toolOutput: (v, callId, output) => sent.push({ type: "tool.output", turn_id: v.turnId, call_id: callId, output }),
  };
  window.view = new TurnView({ userText: "What is 12 * 34?", effort: "high", actions, ...options });
  document.getElementById("turns").replaceChildren(window.view.el);
};
window.feed = (frames) => frames.forEach((f) => window.view.apply(f));
window.ready = true;
"""


@pytest.fixture(scope="module")
def page():
    yield from static_harness(BODY % (ROOT / "templates/chat/turn_template.html").read_text(), SCRIPT)


def metrics(**over):
    base = {"queue_ms": 3.0, "prefill_ms": 40.0, "ttft_ms": 45.0, "time_to_final_ms": 300.0,
            "total_ms": 520.0, "prompt_tokens": 120, "output_tokens": 60,
            "tokens_by_channel": {"analysis": 30, "commentary": 12, "final": 18}, "tool_calls": 1,
            "tool_ms": 0.2, "decode_tokens_per_s": 110.0, "est_flops": 4.2e9, "model": "nano",
            "device": "cpu", "effort": "high"}
    return {**base, **over}


def frames_until_final(turn_id=7):
    return [
        {"type": "turn.queued", "request_id": "r", "conversation_id": 1, "turn_id": turn_id, "queue_position": 2},
        {"type": "turn.started", "turn_id": turn_id, "model": "nano", "device": "cpu", "worker": "w"},
        {"type": "message.start", "turn_id": turn_id, "index": 0, "role": "assistant", "channel": "analysis",
         "recipient": None, "content_type": None},
        {"type": "message.delta", "turn_id": turn_id, "index": 0, "text": "Use the "},
        {"type": "message.delta", "turn_id": turn_id, "index": 0, "text": "calculator."},
        {"type": "message.end", "turn_id": turn_id, "index": 0, "tokens": 5},
        {"type": "message.start", "turn_id": turn_id, "index": 1, "role": "assistant", "channel": "commentary",
         "recipient": "functions.calculator", "content_type": "<|constrain|>json"},
        {"type": "message.delta", "turn_id": turn_id, "index": 1, "text": '{"expression": "12 * 34"}'},
        {"type": "message.end", "turn_id": turn_id, "index": 1, "tokens": 12},
        {"type": "tool.call", "turn_id": turn_id, "call_id": "c1", "index": 1, "name": "calculator",
         "arguments": {"expression": "12 * 34"}},
        {"type": "tool.result", "turn_id": turn_id, "call_id": "c1", "name": "calculator", "output": "408", "ms": 0.2},
        {"type": "message.start", "turn_id": turn_id, "index": 2, "role": "tool", "channel": "commentary",
         "recipient": "assistant", "content_type": None, "author": "functions.calculator"},
        {"type": "message.delta", "turn_id": turn_id, "index": 2, "text": "408"},
        {"type": "message.end", "turn_id": turn_id, "index": 2, "tokens": 9},
        {"type": "message.start", "turn_id": turn_id, "index": 3, "role": "assistant", "channel": "final",
         "recipient": None, "content_type": None},
        {"type": "message.delta", "turn_id": turn_id, "index": 3, "text": "12 × 34 = **408**"},
    ]


def state(page):
    return page.evaluate("""() => {
      const el = view.el, q = (s) => el.querySelector(`[data-slot=${s}]`);
      return {
        status: el.dataset.status, chip: q("status-text").textContent,
        analysisShown: !q("analysis").hidden, analysisOpen: q("analysis").open,
        analysis: q("analysis-body").textContent, tools: q("tools").hidden ? null : q("tools-body").innerText,
        final: q("final-body").innerHTML, placeholder: q("final-placeholder").hidden ? null : q("final-placeholder").textContent,
        stop: !q("stop").hidden, regen: !q("regen").hidden, metrics: q("metrics").hidden ? null : q("metrics").innerText,
        error: q("error").hidden ? null : q("error").textContent,
      };
    }""")


def test_turn_view_fills_the_three_panes_and_the_metrics(page):
    page.evaluate("() => makeTurn({ requestId: 'r' })")
    assert state(page)["chip"] == "Sending…"
    frames = frames_until_final()
    page.evaluate("(f) => feed(f)", frames[:1])
    assert state(page)["chip"] == "Queued · 2 ahead"
    page.evaluate("(f) => feed(f)", frames[1:5])
    s = state(page)
    assert s["status"] == "running" and s["chip"] == "Thinking…"
    assert s["analysisShown"] and s["analysisOpen"] and s["analysis"] == "Use the calculator."
    assert s["stop"] and not s["regen"]

    page.evaluate("(f) => feed(f)", frames[5:15])
    s = state(page)
    assert not s["analysisOpen"], "the analysis folds away when the final answer starts"
    assert "calculator" in s["tools"] and '"expression": "12 * 34"' in s["tools"]
    assert "408" in s["tools"] and "0.20 ms" in s["tools"]

    page.evaluate("(f) => feed(f)", frames[15:] + [
        {"type": "message.end", "turn_id": 7, "index": 3, "tokens": 8},
        {"type": "turn.done", "turn_id": 7, "status": "completed", "error": None, "metrics": metrics()}])
    after_the_next_frame(page)  # the final answer is rendered on the next animation frame
    s = state(page)
    assert s["status"] == "completed" and s["chip"] == "Completed"
    assert s["final"] == '<div class="final-msg"><p>12 × 34 = <strong>408</strong></p>\n</div>'
    assert s["placeholder"] is None
    assert not s["stop"] and s["regen"]
    for label in ["QUEUE", "TTFT", "TO FINAL", "TOTAL", "SPEED", "TOKENS IN / OUT", "BY CHANNEL",
                  "EST. COMPUTE", "TOOL CALLS", "DEVICE", "EFFORT"]:
        assert label in s["metrics"].upper(), label
    assert "110 tok/s" in s["metrics"] and "4.20 GFLOP" in s["metrics"]


def test_a_stopped_turn_keeps_its_analysis_open_and_offers_regenerate(page):
    page.evaluate("() => makeTurn({ turnId: 7 })")
    frames = frames_until_final()[:5] + [
        {"type": "turn.done", "turn_id": 7, "status": "cancelled", "error": None,
         "metrics": metrics(time_to_final_ms=None, tool_calls=0, tool_ms=None)}]
    page.evaluate("(f) => feed(f)", frames)
    s = state(page)
    assert s["chip"] == "Stopped" and s["analysisOpen"], "with no answer the thinking stays in view"
    assert s["placeholder"] == "Stopped before a final answer."
    page.select_option("[data-slot=regen-effort]", "low")
    page.click("[data-slot=regen-button]")
    assert page.evaluate("sent.pop()") == {"type": "regenerate", "turn_id": 7, "effort": "low"}


def test_stop_button_sends_cancel_once(page):
    page.evaluate("() => makeTurn({ turnId: 7 })")
    page.evaluate("(f) => feed(f)", frames_until_final()[:4])
    page.click("[data-slot=stop]")
    assert page.evaluate("sent.splice(0)") == [{"type": "cancel", "turn_id": 7}]
    assert page.is_disabled("[data-slot=stop]")
    assert page.text_content("[data-slot=stop-text]") == "Stopping…"


def test_awaiting_call_shows_a_form_whose_output_resumes_the_turn(page):
    page.evaluate("() => makeTurn({ turnId: 8 })")
    call = {"turn_id": 8, "call_id": "c9", "name": "get_weather", "arguments": {"city": "Oslo"}}
    page.evaluate("(f) => feed(f)", [
        {"type": "turn.started", "turn_id": 8, "model": "nano", "device": "cpu", "worker": "w"},
        {"type": "message.start", "turn_id": 8, "index": 0, "role": "assistant", "channel": "commentary",
         "recipient": "functions.get_weather", "content_type": "<|constrain|>json"},
        {"type": "message.delta", "turn_id": 8, "index": 0, "text": json.dumps(call["arguments"])},
        {"type": "message.end", "turn_id": 8, "index": 0, "tokens": 7},
        {"type": "tool.call", "index": 0, **call},
        {"type": "tool.awaiting", **call}])
    assert state(page)["chip"] == "Waiting for your tool output"
    page.fill("[data-slot=await-text]", "12 °C, rain")
    page.click(".tool-await button[type=submit]")
    assert page.evaluate("sent.splice(0)") == [
        {"type": "tool.output", "turn_id": 8, "call_id": "c9", "output": "12 °C, rain"}]
    page.evaluate("(f) => feed(f)", [
        {"type": "turn.queued", "request_id": "r", "conversation_id": 1, "turn_id": 8, "queue_position": 0},
        {"type": "message.start", "turn_id": 8, "index": 1, "role": "tool", "channel": "commentary",
         "recipient": "assistant", "content_type": None, "author": "functions.get_weather"},
        {"type": "message.delta", "turn_id": 8, "index": 1, "text": "12 °C, rain"},
        {"type": "message.end", "turn_id": 8, "index": 1, "tokens": 6}])
    s = state(page)
    assert s["status"] == "running" and "answered by you" in s["tools"] and "12 °C, rain" in s["tools"]
    assert page.is_hidden(".tool-await")


def test_failed_turn_shows_the_error_and_unparsed_text(page):
    page.evaluate("() => makeTurn({ turnId: 9 })")
    page.evaluate("(f) => feed(f)", [
        {"type": "message.start", "turn_id": 9, "index": 0, "role": "assistant", "channel": "unparsed",
         "recipient": None, "content_type": None},
        {"type": "message.delta", "turn_id": 9, "index": 0, "text": "<|garbage|> stray"},
        {"type": "message.end", "turn_id": 9, "index": 0, "tokens": 3},
        {"type": "turn.done", "turn_id": 9, "status": "failed", "metrics": metrics(),
         "error": {"code": "harmony_parse", "message": "text outside any message"}}])
    s = state(page)
    assert s["chip"] == "Failed" and s["error"] == "text outside any message (harmony_parse)"
    assert "&lt;|garbage|&gt; stray" in s["final"]


LINT = [{"code": "call_on_analysis", "index": 1,
         "message": "call to functions.calculator on the analysis channel (function calls belong on commentary)"},
        {"code": "no_final", "index": None, "message": "the turn ended length without a final message"}]


def test_a_turn_with_lint_findings_shows_a_badge_that_lists_them(page):
    page.evaluate("() => makeTurn({ turnId: 7 })")
    done = {"type": "turn.done", "turn_id": 7, "status": "length", "error": None, "metrics": metrics()}
    page.evaluate("(f) => feed(f)", frames_until_final()[:10] + [{**done, "lint": LINT}])
    badge = page.locator("[data-slot=lint]")
    assert badge.is_visible() and badge.locator("summary").inner_text().startswith("2 harmony issues")
    assert not page.locator("[data-slot=lint-list]").is_visible(), "the list opens on a click"
    assert "call_on_analysis (message 1: call to functions.calculator" in \
        badge.locator("summary").get_attribute("title")
    badge.locator("summary").click()
    items = page.locator("[data-slot=lint-list] li").all_inner_texts()
    assert items == ["call_on_analysis message 1: call to functions.calculator on the analysis channel "
                     "(function calls belong on commentary)",
                     "no_final turn: the turn ended length without a final message"]
    assert_accessible(page, "[data-slot=lint]")  # the turn has older contrast issues (55191b4)
    ARTIFACTS.mkdir(exist_ok=True)
    page.locator("#turns").screenshot(path=str(ARTIFACTS / "turn-lint-badge.png"))

    page.evaluate("() => view.clear()")  # a catch-up redraws the turn: the badge goes until its turn.done
    assert page.locator("[data-slot=lint]").is_hidden()
    for clean in ({**done, "lint": []}, done):  # clean, or not linted: no badge
        page.evaluate("(f) => { view.clear(); feed(f); }", frames_until_final()[:10] + [clean])
        assert page.locator("[data-slot=lint]").is_hidden()
    page.evaluate("(f) => feed(f)", [{**done, "lint": LINT[1:]}])
    assert page.locator("[data-slot=lint] summary").inner_text().startswith("1 harmony issue")


def test_a_refused_turn_create_fails_the_pending_turn_with_the_reason(page):
    page.evaluate("() => makeTurn({ requestId: 'r5' })")
    page.evaluate("(f) => feed(f)", [{"type": "error", "code": "rate_limited", "request_id": "r5",
                                      "message": "at most 20 turns a minute; wait a little"}])
    s = state(page)
    assert s["status"] == "failed" and s["chip"] == "Failed" and not s["stop"]
    assert s["error"] == "at most 20 turns a minute; wait a little (rate_limited)"


def test_a_catch_up_replay_after_clear_draws_the_same_turn(page):
    """What a reconnect does: the server resends the turn from its start; the view restarts."""
    page.evaluate("() => makeTurn({ turnId: 7 })")
    frames = frames_until_final()
    page.evaluate("(f) => feed(f)", frames)
    after_the_next_frame(page)
    before = state(page)
    page.evaluate("(f) => { view.clear(); feed(f); }", frames)
    after_the_next_frame(page)
    assert state(page) == before
    assert page.evaluate("view.el.querySelectorAll('.tool-call').length") == 1


def test_function_tools_editor_accepts_a_schema_and_says_what_is_wrong(page):
    check = lambda text: page.evaluate("(t) => parseTools(t)", text)  # noqa: E731
    weather = {"name": "get_weather", "description": "Weather in a city",
               "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                              "required": ["city"]}}
    assert check(json.dumps([weather])) == [weather]
    assert check(json.dumps({"name": "ping"})) == [{"name": "ping", "description": ""}]
    assert check("") == []
    assert check('[{"name": "x"').startswith("Function tools: not valid JSON")
    assert check('[{"name": "2x"}]') == ('Function tool 1: "name" must be letters, digits and _, '
                                         'not starting with a digit')
    assert check('[{"name": "a"}, {"name": "a"}]') == 'Function tool 2: "a" is declared twice'
    assert check('[{"name": "a", "parameters": {"type": "string"}}]') == \
        'Function tool 1 (a): "parameters" must be a JSON schema of type "object"'
    assert check('[{"name": "a", "parameters": {"type": "object", "required": ["q"]}}]') == \
        'Function tool 1 (a): required property "q" is not declared'


def socket_closed_with(page, code: int, path: str) -> tuple[list[str], int, int]:
    """A ChatSocket whose server (Playwright's WebSocket route) closes every connection at once
    with `code`: the states it went through in 1.5 s (a reconnect comes after ~0.5 s), how often
    onSessionEnd was called and how many connections it opened."""
    opened = []

    def server(ws):
        opened.append(ws)
        ws.close(code=code, reason="test")

    url = f"ws://ui.test/ws/{path}/"
    page.route_web_socket(url, server)
    page.evaluate("""(url) => {
      window.states = []; window.sessionEnded = 0;
      window.chat = new ChatSocket(url, { onFrame() {}, onReopen() {},
        onState(state) { states.push(state); }, onSessionEnd() { sessionEnded += 1; } });
    }""", url)
    page.wait_for_timeout(1500)
    page.evaluate("() => { chat.ended = true; clearTimeout(chat.retryTimer); }")  # stop it
    return page.evaluate("states"), page.evaluate("sessionEnded"), len(opened)


def test_a_socket_whose_session_ended_hands_over_instead_of_reconnecting(page):
    states, ended, connections = socket_closed_with(page, 4401, "ended")
    assert (ended, connections) == (1, 1), states
    assert states[-1] == "ended" and "reconnecting" not in states


def test_a_socket_closed_for_another_reason_reconnects(page):
    states, ended, connections = socket_closed_with(page, 1011, "dropped")
    assert ended == 0 and connections >= 2 and "reconnecting" in states


def test_seq_applies_each_frame_once_and_tells_a_gap(page):
    """The page's seq bookkeeping (static/chat/sequence.js; the live repair is in
    tests/test_browser_gaps.py): repeats are ignored, a jump is a gap, seq-less frames apply."""
    verdicts = page.evaluate("(f) => sequence(f)", [
        {"type": "turn.queued", "turn_id": 7, "next_seq": 0},
        {"type": "turn.started", "turn_id": 7, "seq": 0},
        {"type": "message.start", "turn_id": 7, "seq": 1},
        {"type": "message.start", "turn_id": 7, "seq": 1},  # delivered twice
        {"type": "message.delta", "turn_id": 7, "seq": 3},  # seq 2 was lost
        {"type": "message.delta", "turn_id": 7, "seq": 2},
        {"type": "turn.queued", "turn_id": 7, "next_seq": 5},  # a resume, and seq 3, 4 lost
        {"type": "message.delta", "turn_id": 7, "index": 0, "text": "rebuilt"},
    ])
    assert verdicts == ["apply", "apply", "apply", "duplicate", "gap", "apply", "gap", "apply"]
