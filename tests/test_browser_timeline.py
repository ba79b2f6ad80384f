"""The harmony token timeline in a real browser (Debian chromium) on the real site: a turn with
a calculator call, stored by the worker task on a scripted engine inside the site's own
environment (tests/browser.py's scripted_turn), is opened from the chat's "Tokens" action. The
page splits each round's prompt from its completion, marks the tool round, sets the special
tokens and the recipient apart, gives each token's id and position on hover and, from the
keyboard, in a tooltip. "Copy as code" copies the turn's prompt as Python from the chat, and as
text from the timeline page. A long turn (thousands of tokens) starts with only the chunks near
the viewport drawn. Nothing breaks the site's CSP. Screenshots go to tests/artifacts/; axe-core
finds no serious or critical violation and every control is reachable by the keyboard."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.browser import ARTIFACTS, assert_accessible, assert_keyboard_reachable, log_in, scripted_turn

LONG_NUMBERS = 3000
SPECIALS = ["<|start|>", "<|channel|>", "<|constrain|>", "<|message|>", "<|call|>", "<|return|>",
            "<|end|>"]


def tool_turn(site) -> dict:
    """A calculator turn, stored by the worker task (tests/browser.py's scripted turn)."""
    stored = scripted_turn(site, "What is 12 * 34?", "12 * 34 = **408**")
    assert stored["status"] == "completed", stored["status"]
    return stored


def long_turn(site) -> dict:
    """A turn that counts to LONG_NUMBERS in its analysis: thousands of tokens."""
    count = " ".join(str(n) for n in range(1, LONG_NUMBERS + 1))
    stored = scripted_turn(site, f"Count to {LONG_NUMBERS}.", completions=[
        f"<|channel|>analysis<|message|>{count}<|end|><|start|>assistant<|channel|>final"
        "<|message|>Done.<|return|>"], settings={"max_output_tokens": 50000})
    assert stored["status"] == "completed", stored["status"]
    return stored


def copy_python_then_open_timeline_from_the_chat(page, site, turn) -> str:
    """In the chat: the turn's "Copy as code" menu copies its Python; its "Tokens" action opens
    the timeline. Returns what was copied."""
    page.goto(f"{site.base}/c/{turn['conversation_id']}/")
    actions = page.locator(".turn[data-status=completed] .answer-actions")
    page.click(".turn [data-slot=copy] summary")
    expect(actions.locator("[data-copy=python]")).to_be_visible()
    assert_accessible(page)
    page.screenshot(path=str(ARTIFACTS / "timeline-chat-actions.png"))
    actions.locator("[data-copy=python]").click()
    expect(actions.locator("[data-slot=copy-note]")).to_have_text("Python copied")
    copied = page.evaluate("() => navigator.clipboard.readText()")
    actions.locator("[data-slot=tokens]").click()
    page.wait_for_url(f"{site.base}/turns/{turn['turn_id']}/tokens/")
    expect(page.locator("#tl-rounds")).to_have_attribute("aria-busy", "false")
    return copied


def test_the_timeline_of_a_tool_turn_opened_from_the_chat(site, browser_page):
    page = browser_page
    refused = []  # the page's scripts and styles run under the site's Content-Security-Policy
    page.on("console", lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None)
    stored = tool_turn(site)
    log_in(page, site)
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=site.base)
    copied = copy_python_then_open_timeline_from_the_chat(page, site, stored)
    api = page.request.get(f"{site.base}/api/turns/{stored['turn_id']}/timeline/").json()
    assert copied == api["code"]["python"]

    rounds = page.locator(".tl-round")
    expect(rounds).to_have_count(2)
    expect(page.locator("#tl-error")).to_be_hidden()  # as many tokens as the worker counted
    expect(rounds.nth(1).locator(".tl-tool-mark")).to_have_text("after functions.calculator answered")
    for n in range(2):  # each round: what it was given, then what it wrote
        parts = rounds.nth(n).locator(".tl-part")
        expect(parts.nth(0)).to_have_class("tl-part tl-prompt")
        expect(parts.nth(1)).to_have_class("tl-part tl-completion")
    call = rounds.nth(0).locator(".tl-completion .tl-msg[data-kind=commentary]")
    expect(call.locator(".tl-recipient")).to_have_text("to functions.calculator")
    answer = rounds.nth(1).locator(".tl-prompt .tl-msg[data-kind=tool]")
    expect(answer.locator(".tl-role")).to_have_text("functions.calculator")
    expect(rounds.nth(1).locator(".tl-completion .tl-msg[data-kind=final]")).to_have_count(1)
    page.evaluate("() => window.scrollTo(0, document.body.scrollHeight)")  # lazily drawn chunks
    expect(page.locator("#tl-rounds .tl-pending")).to_have_count(0)
    specials = set(page.locator("#tl-rounds .tl-special").all_text_contents())
    assert specials == set(SPECIALS)

    page.evaluate("() => window.scrollTo(0, 0)")
    first = page.locator("#tl-rounds .tl-tok").first
    assert first.get_attribute("title") == "id 200006 · position 0"
    first.hover()
    expect(page.locator("#tl-tip")).to_contain_text("Position 0 · id 200006 (special)")
    first.focus()
    page.keyboard.press("ArrowRight")
    assert page.evaluate("() => document.activeElement.dataset.g") == "1"
    tip = page.locator("#tl-tip")
    expect(tip).to_be_visible()
    expect(tip).to_contain_text("Position 1 · id 17360")  # "system", given in the prompt
    expect(tip).to_contain_text("given in the prompt in round 1 · system")
    assert page.evaluate("() => document.activeElement.getAttribute('aria-describedby')") == "tl-tip"

    page.click("[data-copy=prompt]")
    expect(page.locator("#tl-copied")).to_have_text("The prompt text is copied.")
    assert page.evaluate("() => navigator.clipboard.readText()") == api["code"]["prompt"]
    page.click(".tl-code-show summary")
    expect(page.locator("[data-code=python]")).to_have_text(api["code"]["python"])

    page.screenshot(path=str(ARTIFACTS / "timeline-tool-turn.png"), full_page=True)
    assert_accessible(page)
    assert_keyboard_reachable(page)
    assert refused == []


def test_a_long_turn_draws_only_the_tokens_near_the_viewport(site, browser_page):
    page = browser_page
    stored = long_turn(site)
    log_in(page, site)
    page.goto(f"{site.base}/turns/{stored['turn_id']}/tokens/")
    expect(page.locator("#tl-rounds")).to_have_attribute("aria-busy", "false")
    api = page.request.get(f"{site.base}/api/turns/{stored['turn_id']}/timeline/").json()
    listed = sum(len(s["tokens"]) for r in api["rounds"] for s in r["spans"])
    assert listed > LONG_NUMBERS
    expect(page.locator("#tl-error")).to_be_hidden()

    drawn = page.locator("#tl-rounds .tl-tok").count()
    print(f"\nlong turn: {listed} tokens listed, {drawn} drawn at first")
    assert 0 < drawn <= 2400 and drawn < listed / 3, "only the chunks near the viewport are drawn"
    page.locator("#tl-rounds .tl-tok").first.focus()
    page.keyboard.press("End")  # the last token: its chunk is drawn on the way
    assert page.evaluate("() => document.activeElement.dataset.g") == str(listed - 1)
    expect(page.locator("#tl-tip")).to_contain_text("<|return|>")
    page.screenshot(path=str(ARTIFACTS / "timeline-long-turn.png"))
    assert_accessible(page)
