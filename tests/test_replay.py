"""A stored turn replays as the frames it was streamed as: the same frame types in the same
order, the same text per message (deltas merged), the same tool frames and turn.done."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from inference import events, harmony
from inference.turn import run_turn
from tests.scripted_engine import ScriptedEngine, calculator_call, final_answer
from webapp.chat.frames import harmony_settings
from webapp.chat.models import Conversation, Message, Turn
from webapp.chat.replay import turn_frames

pytestmark = pytest.mark.django_db


def make_turn(settings=None, status="queued", **fields) -> Turn:
    user, _ = get_user_model().objects.get_or_create(username="ada")
    conversation = Conversation.objects.create(user=user, title="t")
    return Turn.objects.create(conversation=conversation, request_id="r1", user_text="What is 12 * 34?",
                               effort="high", settings=settings or {}, status=status, **fields)


def stream_and_store(turn: Turn, engine: ScriptedEngine, settings: harmony.TurnSettings):
    """Run the real turn loop, keep its frames, and store the turn the way the worker does:
    every message with its call id (the call and the tool's answer) and tool time."""
    frames = []
    turn.status, turn.started_at = "running", timezone.now()
    frames.append(events.turn_queued(turn.request_id, turn.conversation_id, turn.id, 0))
    result = run_turn(engine, [harmony.Msg(role="user", text=turn.user_text)], settings,
                      frames.append, turn_id=turn.id, queue_ms=1.0, worker="w1")
    calls = {f["index"]: f["call_id"] for f in frames if f["type"] == "tool.call"}
    results = {f["call_id"]: f["ms"] for f in frames if f["type"] == "tool.result"}
    call_id = None
    for m in result.messages:
        if m.role == "assistant" and m.index in calls:
            call_id = calls[m.index]
            Message.objects.create(turn=turn, index=m.index, role=m.role, channel=m.channel,
                                   recipient=m.recipient, content_type=m.content_type, text=m.text,
                                   token_ids=m.token_ids, tokens=len(m.token_ids), call_id=call_id)
        else:
            is_answer = m.role == "tool"
            Message.objects.create(turn=turn, index=m.index, role=m.role, author=m.author,
                                   channel=m.channel, recipient=m.recipient,
                                   content_type=m.content_type, text=m.text, token_ids=m.token_ids,
                                   tokens=len(m.token_ids), call_id=call_id if is_answer else None,
                                   tool_ms=results.get(call_id) if is_answer else None)
    turn.status = result.status
    turn.model, turn.device, turn.worker = engine.model_name, engine.device, "w1"
    turn.metrics, turn.error = result.metrics, result.error
    if result.pending_call:
        pc = result.pending_call
        turn.pending_call = {"call_id": pc.call_id, "name": pc.name, "arguments": pc.arguments}
    turn.save()
    return frames


def merged(frames):
    """Frames with consecutive deltas of one message joined, `queue_position` dropped (a
    stored turn is no longer in a queue)."""
    out = []
    for f in frames:
        f = {k: v for k, v in f.items() if k != "queue_position"}
        if f["type"] == "message.delta" and out and out[-1]["type"] == "message.delta" \
                and out[-1]["index"] == f["index"]:
            out[-1] = {**out[-1], "text": out[-1]["text"] + f["text"]}
        else:
            out.append(f)
    return out


def test_completed_turn_with_calculator_call_replays_as_streamed():
    turn = make_turn(settings={"builtin_tools": ["calculator"]})
    engine = ScriptedEngine(calculator_call("12 * 34"),
                            "<|channel|>analysis<|message|>It is 408.<|end|>"
                            "<|start|>assistant" + final_answer("**408**"))
    streamed = stream_and_store(turn, engine, harmony_settings("high", turn.settings))

    replayed = turn_frames(Turn.objects.get(id=turn.id))

    assert merged(replayed) == merged(streamed)
    types = [f["type"] for f in replayed]
    assert types.index("tool.call") < types.index("tool.result") < types.index("turn.done")
    assert replayed[-1]["status"] == "completed"
    assert {f["channel"] for f in replayed if f["type"] == "message.start"} >= \
        {"analysis", "commentary", "final"}


def test_turn_awaiting_a_builder_function_replays_with_tool_awaiting():
    tools = [{"name": "get_weather", "description": "Weather", "parameters": None}]
    turn = make_turn(settings={"tools": tools})
    engine = ScriptedEngine(
        '<|channel|>commentary to=functions.get_weather <|constrain|>json'
        '<|message|>{"city": "Oslo"}<|call|>')
    streamed = stream_and_store(turn, engine, harmony_settings("medium", turn.settings))

    replayed = turn_frames(Turn.objects.get(id=turn.id))

    assert merged(replayed) == merged(streamed)
    assert replayed[-1] == {"type": "tool.awaiting", "turn_id": turn.id,
                            "call_id": f"call_{turn.id}_0", "name": "get_weather",
                            "arguments": {"city": "Oslo"}}


def test_turn_cancelled_in_the_queue_replays_queued_then_done_with_null_metrics():
    turn = make_turn(status="cancelled", metrics={"queue_ms": 12.5})

    frames = turn_frames(turn)

    assert [f["type"] for f in frames] == ["turn.queued", "turn.done"]
    done = frames[-1]
    assert done["status"] == "cancelled" and done["error"] is None
    assert set(events.METRIC_KEYS) <= set(done["metrics"])
    assert done["metrics"]["queue_ms"] == 12.5 and done["metrics"]["ttft_ms"] is None
    assert done["metrics"]["effort"] == "high"


def test_running_turn_replays_what_is_stored_without_turn_done():
    turn = make_turn(status="running", started_at=timezone.now(), model="nano", device="cpu",
                     worker="w1")
    Message.objects.create(turn=turn, index=0, role="assistant", channel="analysis",
                           text="Multiply.", tokens=3)

    frames = turn_frames(turn)

    assert [f["type"] for f in frames] == ["turn.queued", "turn.started", "message.start",
                                           "message.delta", "message.end"]
    assert frames[1]["model"] == "nano" and frames[3]["text"] == "Multiply."
