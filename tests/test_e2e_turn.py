"""End to end, every part real: PostgreSQL shared by the processes, Redis (broker, channel
layer, frame logs), a Celery worker (solo pool) running the embedded gpt-oss-nano model, Daphne
on a free port, and a WebSocket client that logs in through the login form.

It asks "What is 12 * 34?" at high effort with the built-in tools and checks the stream
(queued, started on the device the engine chose, analysis, a calculator call on commentary whose
result is 408, a final answer that says 408, turn.done with every metric), that the database
then holds the turn with the same text per message as streamed, and that a second socket
subscribing mid-turn receives exactly the same frames.

Without the trained nano checkpoint (inference/nano/checkpoint/) it runs the same plumbing on a
tiny random GptOss, whose output is noise: the channel assertions then do not apply.
"""

from __future__ import annotations

import asyncio
import json
import os
import time

import pytest

from inference import events
from inference.engine import normalise_device
from inference.events import message_texts as texts
from inference.live_stack import TurnRecord, receive_turn as receive_frames
from tests.live_site import QUESTION, TURN_TIMEOUT_S, nano_checkpoint, says_408


async def receive_turn(ws) -> list[dict]:
    frames = (await receive_frames(ws, TurnRecord())).frames
    assert frames[-1]["type"] == "turn.done", frames[-1]
    return frames


async def turn_with_a_follower(site, session, settings):
    """Socket A asks the question; as soon as the worker has started, socket B subscribes to
    the same turn. Returns both sockets' frames."""
    async with site.connect(session) as a, site.connect(session) as b:
        await a.send(json.dumps({
            "type": "turn.create", "request_id": "e2e-1", "conversation_id": None,
            "text": QUESTION, "effort": "high", "settings": settings}))
        seen = [json.loads(await asyncio.wait_for(a.recv(), TURN_TIMEOUT_S)) for _ in range(2)]
        assert [f["type"] for f in seen] == ["turn.queued", "turn.started"], seen
        await b.send(json.dumps({"type": "turn.subscribe", "turn_id": seen[0]["turn_id"]}))
        frames_a = seen + await receive_turn(a)
        frames_b = await receive_turn(b)
    return frames_a, frames_b


def engine_device() -> str:
    """The device the worker's Engine.load picks: GPTOSS_DEVICE (inherited by the worker) or,
    unset, torch's default (cuda:0 where a GPU is visible, else cpu)."""
    return normalise_device(os.environ.get("GPTOSS_DEVICE") or None)


@pytest.fixture(scope="module")
def streamed(site):
    """One turn, asked once for the tests below: both sockets' frames and the stored rows."""
    settings = {"builtin_tools": ["calculator", "clock"]}  # the chat page's default
    if nano_checkpoint() is None:
        settings["max_output_tokens"] = 100  # a random model never stops by itself
    started = time.monotonic()
    frames, follower = asyncio.run(turn_with_a_follower(site, site.login(), settings))
    print(f"\ne2e turn: {frames[-1]['status']} in {time.monotonic() - started:.1f} s wall; "
          f"metrics {frames[-1]['metrics']}")
    turn_id = frames[0]["turn_id"]
    [turn_row] = site.query("SELECT status, metrics, error, device FROM chat_turn WHERE id = %s",
                            turn_id)
    rows = site.query("SELECT index, text, tokens, channel, recipient, call_id, tool_ms, "
                      "jsonb_array_length(token_ids) FROM chat_message WHERE turn_id = %s "
                      "ORDER BY index", turn_id)
    return frames, follower, turn_row, rows


def test_a_turn_streams_through_daphne_celery_and_redis_and_is_stored(site, streamed):
    frames, follower, turn_row, rows = streamed
    queued, first, done = frames[0], frames[1], frames[-1]
    assert queued["request_id"] == "e2e-1" and isinstance(queued["queue_position"], int)
    assert isinstance(queued["conversation_id"], int)
    assert first["type"] == "turn.started" and first["model"] and first["device"] == engine_device()
    assert first["worker"].startswith(site.prefix)
    assert done["type"] == "turn.done"
    assert set(events.METRIC_KEYS) <= set(done["metrics"])
    published = frames[1:]
    assert [f["seq"] for f in published] == list(range(len(published))), "in order, none lost"

    # the follower got the turn from its start: the log so far, then live, nothing twice
    # (or, if the turn ended before it subscribed, the stored turn)
    assert follower[0]["type"] == "turn.queued" and follower[0]["turn_id"] == queued["turn_id"]
    if all("seq" in f for f in follower[1:]):
        print("follower caught up from the frame log, then live")
        assert follower[1:] == published
    else:
        print("follower subscribed after the end: it got the stored turn")
        assert texts(follower) == texts(frames)
        assert (follower[-1]["status"], follower[-1]["metrics"]) == (done["status"], done["metrics"])

    # the database holds what was streamed
    assert turn_row == (done["status"], done["metrics"], done["error"], first["device"])
    assert {r[0]: r[1] for r in rows} == texts(frames)
    ends = {f["index"]: f["tokens"] for f in frames if f["type"] == "message.end"}
    assert {r[0]: r[2] for r in rows} == ends
    assert all(r[7] == r[2] for r in rows), "token ids stored for every message"


@pytest.mark.skipif(nano_checkpoint() is None, reason="needs the trained nano checkpoint in "
                    "inference/nano/checkpoint/ (a random model emits no channels)")
def test_the_nano_model_thinks_calls_the_calculator_gets_408_and_answers_408(streamed):
    frames, _, _, rows = streamed
    done = frames[-1]
    channels = [(f["channel"], f["recipient"]) for f in frames if f["type"] == "message.start"]
    assert ("analysis", None) in channels
    assert ("commentary", "functions.calculator") in channels
    assert ("final", None) in channels
    calls = [f for f in frames if f["type"] == "tool.call"]
    results = {f["call_id"]: f for f in frames if f["type"] == "tool.result"}
    assert calls and len(results) == len(calls)
    for call in calls:
        result = results[call["call_id"]]
        assert call["name"] == result["name"] == "calculator"
        # 12 * 34, worked out here rather than by the calculator under test
        assert result["output"] == "408", (call["arguments"], result["output"])
        assert result["ms"] >= 0
    finals = [r[1] for r in rows if r[3] == "final"]
    assert finals and says_408(finals[-1]), finals
    assert done["status"] == "completed" and done["error"] is None
    m = done["metrics"]
    assert m["effort"] == "high" and m["tool_calls"] == len(calls) and m["est_flops"] > 0
    assert all(m["tokens_by_channel"][c] > 0 for c in ("analysis", "commentary", "final"))
    for key in ("queue_ms", "prefill_ms", "ttft_ms", "time_to_final_ms", "total_ms",
                "prompt_tokens", "output_tokens", "tool_ms", "decode_tokens_per_s"):
        assert m[key] is not None and m[key] >= 0, key
    for call in calls:  # each call and its answer stored under the same call id
        [call_row] = [r for r in rows if r[0] == call["index"]]
        [answer_row] = [r for r in rows if r[5] == call["call_id"] and r[0] != call["index"]]
        assert call_row[4] == "functions.calculator" and call_row[5] == call["call_id"]
        assert answer_row[1] == results[call["call_id"]]["output"] and answer_row[6] is not None
