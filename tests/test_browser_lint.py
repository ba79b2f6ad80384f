"""A turn's harmony lint on the real stack (Daphne, the Celery worker with the model, Redis,
PostgreSQL) in Debian's chromium: the worker stores the findings of the turn it ran and its
turn.done carries them to the page; a stored turn with findings shows the badge after a reload
(the replay carries what was stored), its list opening on a click. A screenshot goes to
tests/artifacts/."""

from __future__ import annotations

import json

from playwright.sync_api import expect

from tests.browser import ARTIFACTS, FINISHED, assert_accessible, log_in
from tests.live_site import QUESTION, TURN_TIMEOUT_S

FINDINGS = [{"code": "call_on_analysis", "index": 1,
             "message": "call to functions.calculator on the analysis channel (function calls belong on commentary)"},
            {"code": "missing_stop", "index": 3,
             "message": "the turn's last generated message ends with <|end|>, not <|return|> or <|call|>"}]


def test_the_worker_sends_the_lint_it_stored_and_a_reload_shows_the_badge(site, browser_page):
    page = browser_page
    log_in(page, site)
    page.fill("#composer-text", QUESTION)
    page.keyboard.press("Enter")
    page.wait_for_selector(f".turns > .turn:nth-child(1):is({FINISHED})", timeout=TURN_TIMEOUT_S * 1000)
    turn = page.locator(".turn").nth(0)
    turn_id = int(turn.get_attribute("data-turn-id"))

    done = [f for f in page.frames_received if f["type"] == "turn.done" and f.get("turn_id") == turn_id]
    [(stored,)] = site.query("SELECT lint FROM chat_turn WHERE id = %s", turn_id)
    assert isinstance(stored, list), "the worker linted the turn"
    assert done[-1]["lint"] == stored, "and sent what it stored"
    badge = turn.locator("[data-slot=lint]")
    expect(badge).to_be_hidden() if not stored else expect(badge).to_be_visible()
    print(f"\nthe model's turn: {turn.get_attribute('data-status')}, lint {json.dumps(stored)}")

    site.query("UPDATE chat_turn SET lint = %s WHERE id = %s RETURNING id", json.dumps(FINDINGS), turn_id)
    page.reload()
    turn = page.locator(".turn").nth(0)
    badge = turn.locator("[data-slot=lint]")
    expect(badge).to_be_visible()
    expect(badge.locator("summary")).to_have_text("2 harmony issues")
    badge.locator("summary").click()
    expect(badge.locator("li")).to_have_text([
        "call_on_analysis message 1: call to functions.calculator on the analysis channel "
        "(function calls belong on commentary)",
        "missing_stop message 3: the turn's last generated message ends with <|end|>, not "
        "<|return|> or <|call|>"])
    assert_accessible(page, "[data-slot=lint]")
    page.screenshot(path=str(ARTIFACTS / "chat-lint-badge.png"))
