"""No silent gaps, in a real browser (Debian chromium) against the real stack (tests/live_site.py:
Daphne, a Celery worker with the model, Redis, PostgreSQL).

The channel layer delivers at most once, so a frame can go missing between the worker and the
page. Playwright's WebSocket route sits between the chat page and the site and drops one frame
of a turn on its way to the page; the page sees the next frame's `seq` jump, follows the turn
again (`turn.subscribe`) and redraws it from the catch-up, so its panes end equal to the stored
turn. A screenshot goes to tests/artifacts/.
"""

from __future__ import annotations

import json
import re

from playwright.sync_api import expect

from tests.browser import ARTIFACTS, CHAT_SOCKET, FINISHED, after_the_next_frame, drawn_turns, log_in
from tests.live_site import QUESTION, TURN_TIMEOUT_S


def stored_channels(site, turn_id):
    """The stored turn's assistant text by pane: analysis, final."""
    rows = site.query("SELECT channel, text FROM chat_message WHERE turn_id = %s AND role = 'assistant' "
                      "AND recipient IS NULL ORDER BY index", int(turn_id))
    return {channel: "".join(text for c, text in rows if c == channel) for channel in ("analysis", "final")}


def test_a_frame_lost_on_the_way_to_the_page_is_repaired_from_the_catch_up(site, browser_page):  # noqa: F811
    page = browser_page
    dropped, delivered, from_page = [], [], []

    def between(ws):
        server = ws.connect_to_server()

        def to_page(message):
            frame = json.loads(message)
            # the first streamed text of the turn is lost, as the channel layer may lose it
            if not dropped and frame.get("type") == "message.delta" and "seq" in frame:
                dropped.append(frame)
                return
            delivered.append(frame)
            ws.send(message)

        def to_server(message):
            from_page.append(json.loads(message))
            server.send(message)

        server.on_message(to_page)
        ws.on_message(to_server)

    page.route_web_socket(CHAT_SOCKET, between)
    log_in(page, site)
    page.click("label.effort-opt:has-text('High')")
    page.fill("#composer-text", QUESTION)
    page.keyboard.press("Enter")
    page.wait_for_selector(f".turns > .turn:nth-child(1):is({FINISHED})", timeout=TURN_TIMEOUT_S * 1000)
    after_the_next_frame(page)
    turn = page.locator(".turn").first
    turn_id = int(turn.get_attribute("data-turn-id"))

    assert dropped, "a frame was dropped"
    lost = dropped[0]

    stored = stored_channels(site, turn_id)
    assert lost["text"] and lost["text"] in stored["analysis"] + stored["final"]
    shown = drawn_turns(page)[0]
    assert (shown["analysis"] or "") == stored["analysis"], "the analysis pane is the stored text"
    final_text = turn.locator("[data-slot=final-body]").inner_text()
    assert re.findall(r"[A-Za-z0-9]+", final_text) == re.findall(r"[A-Za-z0-9]+", stored["final"])
    assert [f for f in from_page if f["type"] == "turn.subscribe"] == [
        {"type": "turn.subscribe", "turn_id": turn_id}], "the gap made the page follow the turn again"
    seqs = [f["seq"] for f in delivered if f.get("turn_id") == turn_id and "seq" in f]
    assert lost["seq"] + 1 in seqs, "the next frame came, and showed the gap"
    page.screenshot(path=str(ARTIFACTS / "chat-gap-repaired.png"))

    # and exactly what a reload draws from the database
    page.reload()
    expect(page.locator(".turn")).to_have_count(1)
    after_the_next_frame(page)
    assert drawn_turns(page)[0] == shown
