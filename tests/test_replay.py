"""A stored turn replays as the frames it was streamed as: the same frame types in the same
order, the same text per message (deltas merged), the same tool frames and turn.done. The turn
is run and stored by the worker's own code (`webapp.chat.tasks`) on a scripted engine, and
what it streamed is read back from the turn's frame log."""

from __future__ import annotations

import pytest
from django.utils import timezone

from inference import events
from tests.factories import frame_log, make_turn, merged
from tests.scripted_engine import ScriptedEngine, calculator_call, final_answer
from webapp.chat import tasks, worker
from webapp.chat.models import Message, Turn
from webapp.chat.replay import turn_frames

pytestmark = pytest.mark.django_db


@pytest.fixture
def stream_and_store(monkeypatch, live_state):
    """`stream_and_store(turn, engine)`: the worker runs the queued turn on `engine` and stores
    it (webapp.chat.tasks with webapp.chat.sink.TurnSink); returns the frames it streamed: turn.queued (the
    consumer's) and then the turn's frame log, without `seq`."""
    def run(turn: Turn, engine: ScriptedEngine) -> list[dict]:
        monkeypatch.setattr(worker, "_engine", engine)
        tasks.execute(turn.id, "w1", resume=False)

        logged = [{k: v for k, v in f.items() if k != "seq"} for f in frame_log(turn.id)]
        return [events.turn_queued(turn.request_id, turn.conversation_id, turn.id, 0)] + logged
    return run


def test_completed_turn_with_calculator_call_replays_as_streamed(stream_and_store):
    turn = make_turn(settings={"builtin_tools": ["calculator"]})
    engine = ScriptedEngine(calculator_call("12 * 34"),
                            "<|channel|>analysis<|message|>It is 408.<|end|>"
                            "<|start|>assistant" + final_answer("**408**"))
    streamed = stream_and_store(turn, engine)

    replayed = turn_frames(Turn.objects.get(id=turn.id))

    assert merged(replayed) == merged(streamed)
    types = [f["type"] for f in replayed]
    assert types.index("tool.call") < types.index("tool.result") < types.index("turn.done")
    assert replayed[-1]["status"] == "completed"
    assert {f["channel"] for f in replayed if f["type"] == "message.start"} >= \
        {"analysis", "commentary", "final"}


def test_turn_awaiting_a_builder_function_replays_with_tool_awaiting(stream_and_store):
    tools = [{"name": "get_weather", "description": "Weather", "parameters": None}]
    turn = make_turn(settings={"tools": tools})
    engine = ScriptedEngine(
        '<|channel|>commentary to=functions.get_weather <|constrain|>json'
        '<|message|>{"city": "Oslo"}<|call|>')
    streamed = stream_and_store(turn, engine)

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
