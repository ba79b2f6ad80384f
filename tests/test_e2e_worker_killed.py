"""A worker SIGKILLed mid-answer, every part real (tests/live_site.py: Daphne, a Celery worker
started with docker-compose.yml's command, PostgreSQL, Redis): the sockets following the turn
get turn.done failed (`worker_lost`) from the site's sweeper (webapp/chat/sweeper.py) within
CHAT_STALE_TURN_SECONDS plus a few seconds, with no client re-subscribing and no worker alive,
and the database holds the text streamed before the kill.

The site runs with CHAT_STALE_TURN_SECONDS=5 and CHAT_STREAM_FLUSH_TOKENS=1 (every delta saved
before it is published): whatever the model's speed, all the text a client saw is then stored
(the batching itself, 32 deltas or 1 s by default, is tested in tests/test_turn_durable.py).
"""

from __future__ import annotations

import asyncio
import json
import signal
import time

import pytest

from inference.events import message_texts
from tests.live_site import QUESTION, TURN_TIMEOUT_S, nano_checkpoint

STALE_S = 5
# the last heartbeat is at most a beat period (1 s) before the kill, the sweep runs every 1 s
DEADLINE_S = STALE_S + 5


@pytest.fixture(scope="module")
def killable_site(tmp_path_factory):
    from tests.live_site import started_site

    yield from started_site(tmp_path_factory, "killed", env={
        "CHAT_STALE_TURN_SECONDS": str(STALE_S), "CHAT_STREAM_FLUSH_TOKENS": "1"})


async def recv(ws, timeout):
    return json.loads(await asyncio.wait_for(ws.recv(), timeout))


async def kill_mid_answer(site, session, settings):
    worker = site.processes[0]  # spawned first: the Celery worker
    async with site.connect(session) as a, site.connect(session) as b:
        await a.send(json.dumps({"type": "turn.create", "request_id": "kill-1",
                                 "conversation_id": None, "text": QUESTION, "effort": "high",
                                 "settings": settings}))
        frames = [await recv(a, TURN_TIMEOUT_S)]
        turn_id = frames[0]["turn_id"]
        await b.send(json.dumps({"type": "turn.subscribe", "turn_id": turn_id}))
        while frames[-1]["type"] != "message.delta":
            frames.append(await recv(a, TURN_TIMEOUT_S))
            assert frames[-1]["type"] != "turn.done", "the turn ended before the kill"
        worker.send_signal(signal.SIGKILL)
        killed_at = time.monotonic()
        worker.wait(10)
        while frames[-1]["type"] != "turn.done":
            frames.append(await recv(a, DEADLINE_S + 5))
        told_a = time.monotonic() - killed_at
        follower = [await recv(b, 5)]
        while follower[-1]["type"] != "turn.done":
            follower.append(await recv(b, DEADLINE_S + 5))
    return turn_id, frames, follower, told_a


def test_a_killed_worker_s_turn_is_failed_by_the_site_and_its_text_kept(killable_site):
    site = killable_site
    settings = {"builtin_tools": ["calculator", "clock"]}
    if nano_checkpoint() is None:
        settings["max_output_tokens"] = 200
    turn_id, frames, follower, told = asyncio.run(kill_mid_answer(site, site.login(), settings))
    print(f"\nturn.done {told:.1f} s after the SIGKILL")

    done = frames[-1]
    assert done["status"] == "failed" and done["error"]["code"] == "worker_lost", done
    assert told <= DEADLINE_S, f"told {told:.1f} s after the kill"
    assert follower[-1] == done, "the subscribed socket is told too"
    assert [f["type"] for f in frames].count("turn.done") == 1

    [(status, error)] = site.query("SELECT status, error FROM chat_turn WHERE id = %s", turn_id)
    assert status == "failed" and error["code"] == "worker_lost"
    stored = dict(site.query("SELECT index, text FROM chat_message WHERE turn_id = %s", turn_id))
    streamed = message_texts(frames)
    assert streamed and any(streamed.values()), "text streamed before the kill"
    for index, text in streamed.items():
        assert stored.get(index, "").startswith(text), (index, text, stored.get(index))
