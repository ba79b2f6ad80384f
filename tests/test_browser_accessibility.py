"""Everyone can use it: the login page, the chat page (empty, with a completed turn showing its
analysis, tool and final panes and its metrics, with the settings drawer open) and the
tokenizer page, in a real browser (Debian chromium) on the live site, have no serious or
critical axe-core violation; Tab reaches every control once, in document order, with a
visible focus ring; the settings drawer keeps the keyboard inside it while open and gives
focus back when closed. Screenshots go to tests/artifacts/."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.browser import (ARTIFACTS, after_the_next_frame, assert_accessible,
                           assert_keyboard_reachable, log_in, scripted_turn)

ANSWER = ("**408.** The calculator agrees: $12 \\times 34 = 408$.\n\n| factor | value |\n|---|---:|\n"
          "| 12 | 12 |\n| 34 | 34 |\n\n```python\nprint(12 * 34)\n```\n\nSee "
          "[the docs](https://docs.python.org/3/).\n")


def check(page, name):
    assert_accessible(page)
    assert_keyboard_reachable(page)
    page.screenshot(path=str(ARTIFACTS / f"a11y-{name}.png"), full_page=True)


def test_the_login_page_has_its_heading_labels_and_keyboard_order(site, browser_page):
    page = browser_page
    page.goto(site.base + "/accounts/login/")
    expect(page.get_by_role("heading", level=1)).to_have_text("gpt-oss chat")
    expect(page.get_by_label("Username")).to_be_focused()  # autofocus
    check(page, "login")


def test_the_chat_page_empty_with_a_turn_and_with_settings_open(site, browser_page):
    page = browser_page
    stored = scripted_turn(site, "What is 12 * 34?", ANSWER)
    log_in(page, site)
    check(page, "chat-empty")

    settings = page.locator("[data-action=open-settings]")
    settings.focus()
    page.keyboard.press("Enter")
    expect(page.locator("#settings")).to_be_visible()
    page.wait_for_function("() => getComputedStyle(document.getElementById('settings')).opacity === '1'")  # slid in
    expect(page.locator("textarea[name=developer_instructions]")).to_be_focused()
    assert page.evaluate("document.querySelector('main').inert"), "the page behind the drawer is inert"
    check(page, "chat-settings-open")
    page.keyboard.press("Escape")
    expect(page.locator("#settings")).to_be_hidden()
    expect(settings).to_be_focused()

    page.goto(f"{site.base}/c/{stored['conversation_id']}/")
    turn = page.locator(".turn")
    expect(turn).to_have_attribute("data-status", "completed")
    after_the_next_frame(page)
    turn.locator("[data-slot=analysis] summary").click()  # folded once the answer came
    for pane in ("analysis-body", "tools-body", "final-body", "metrics"):
        expect(turn.locator(f"[data-slot={pane}]")).to_be_visible()
    expect(turn.locator("[data-slot=final-body] .katex")).to_have_count(1)
    check(page, "chat-turn")


def test_the_tokenizer_page(site, browser_page):
    page = browser_page
    log_in(page, site)
    page.goto(site.base + "/tokenizer/")
    page.locator(".tok-example").first.click()  # tokens drawn in both columns
    expect(page.locator("#tok-summary")).to_have_attribute("aria-busy", "false")
    page.wait_for_function("() => document.querySelectorAll('.tk').length > 0")
    check(page, "tokenizer")
