"""The worker task, run in-process on a scripted engine: it stores every message with the
text it streamed, publishes the frames to the turn's log in order with turn.done last, never
runs a turn twice, stops at the cancel flag, pauses and resumes on a builder's function, and
gives the model the conversation's earlier answers."""

import pytest

from factories import WEATHER_TOOL, frame_log
from inference.events import message_texts
from scripted_engine import calculator_call, final_answer
from webapp.chat import live, tasks, turns, worker
from webapp.chat.frames import TurnRequest

pytestmark = pytest.mark.django_db(transaction=True)

WEATHER_CALL = ("<|channel|>analysis<|message|>Ask get_weather.<|end|><|start|>assistant"
                "<|channel|>commentary to=functions.get_weather <|constrain|>json"
                '<|message|>{"city": "Paris"}<|call|>')


@pytest.fixture
def engine(worker_engine):
    return worker_engine


def new_turn(user, text="What is 12 * 34?", conversation_id=None, settings=None, effort="high"):
    request = TurnRequest(request_id="r", conversation_id=conversation_id, text=text, effort=effort,
                          settings=settings or {"builtin_tools": ["calculator"]})
    turn, _ = turns.create_turn(user, request)
    return turn


def run_task(turn, resume=False):
    tasks.execute(turn.id, "worker-1", resume=resume)
    turn.refresh_from_db()
    return turn


def logged(turn) -> list[dict]:
    return frame_log(turn.id)


def test_turn_is_stored_as_streamed_with_the_calculator_call(make_user, engine):
    engine(calculator_call("12 * 34"),
           "<|channel|>analysis<|message|>The tool says 408.<|end|><|start|>assistant"
           + final_answer("12 * 34 = **408**"))
    turn = run_task(new_turn(make_user()))

    frames = logged(turn)
    assert [f["seq"] for f in frames] == list(range(len(frames)))
    kinds = [f["type"] for f in frames]
    assert kinds[0] == "turn.started" and kinds[-1] == "turn.done"
    assert kinds.count("tool.call") == kinds.count("tool.result") == 1
    assert turn.status == "completed" and turn.error is None
    assert turn.worker == "worker-1" and turn.model == "scripted" and turn.finished_at
    assert frames[-1]["metrics"] == turn.metrics and turn.metrics["tool_calls"] == 1

    stored = list(turn.messages.order_by("index"))
    assert {m.index: m.text for m in stored} == message_texts(frames)
    assert [(m.role, m.channel) for m in stored] == [
        ("assistant", "analysis"), ("assistant", "commentary"), ("tool", "commentary"),
        ("assistant", "analysis"), ("assistant", "final")]
    call, answer = stored[1], stored[2]
    assert call.recipient == "functions.calculator" and call.call_id
    assert answer.call_id == call.call_id and answer.author == "functions.calculator"
    assert answer.text == "408" and answer.tool_ms is not None
    assert all(m.token_ids and m.tokens == len(m.token_ids) for m in stored)
    ends = {f["index"]: f["tokens"] for f in frames if f["type"] == "message.end"}
    assert {m.index: m.tokens for m in stored} == ends


def test_a_redelivered_task_does_not_run_the_turn_again(make_user, engine):
    scripted = engine(final_answer("Hello."))
    turn = run_task(new_turn(make_user(), "Hi"))
    before = (turn.status, turn.messages.count(), len(logged(turn)))
    run_task(turn)  # acks_late: the broker may deliver the same task again
    assert len(scripted.prompts) == 1
    assert (turn.status, turn.messages.count(), len(logged(turn))) == before
    assert before[:2] == ("completed", 1)


def test_a_cancelled_turn_stops_at_the_flag(make_user, engine):
    engine(final_answer("A long answer"))
    turn = new_turn(make_user())
    live.sync_client().set(live.key(turn.id, "cancel"), 1)
    turn = run_task(turn)
    assert turn.status == "cancelled"
    assert logged(turn)[-1]["status"] == "cancelled"
    assert not live.cancel_requested(turn.id), "the flag is cleared when the run ends"


def test_a_builder_function_pauses_the_turn_and_the_client_output_resumes_it(make_user, engine):
    engine(WEATHER_CALL, final_answer("It is sunny in Paris."))
    ada = make_user()
    turn = run_task(new_turn(ada, "Weather in Paris?", settings={"tools": [WEATHER_TOOL]}))

    assert turn.status == "awaiting" and turn.finished_at is None
    assert turn.pending_call == {"call_id": turn.pending_call["call_id"], "name": "get_weather",
                                 "arguments": {"city": "Paris"}}
    assert logged(turn)[-1]["type"] == "tool.awaiting"

    turns.accept_tool_output(ada, turn.id, turn.pending_call["call_id"], "sunny, 21 C")
    turn = run_task(turn, resume=True)

    assert turn.status == "completed"
    frames = logged(turn)
    assert frames[-1]["type"] == "turn.done" and frames[-1]["metrics"]["tool_calls"] == 1
    stored = list(turn.messages.order_by("index"))
    assert [(m.role, m.channel) for m in stored] == [
        ("assistant", "analysis"), ("assistant", "commentary"), ("tool", "commentary"),
        ("assistant", "final")]
    answer = stored[2]
    assert (answer.text, answer.author, answer.tool_ms) == ("sunny, 21 C", "functions.get_weather", None)
    assert answer.call_id == stored[1].call_id
    assert {m.index: m.text for m in stored} == message_texts(frames)


def test_a_resume_task_for_a_turn_not_answered_does_nothing(make_user, engine):
    scripted = engine(final_answer("Hello."))
    turn = run_task(new_turn(make_user(), "Hi"), resume=True)
    assert turn.status == "queued" and scripted.prompts == []


def test_the_next_turn_sees_earlier_answers_but_not_their_analysis(make_user, engine):
    from inference import harmony

    scripted = engine("<|channel|>analysis<|message|>SECRET-THOUGHT<|end|><|start|>assistant"
                      + final_answer("FIRST-ANSWER"), final_answer("Second."))
    ada = make_user()
    first = run_task(new_turn(ada, "First question"))
    run_task(new_turn(ada, "Second question", conversation_id=first.conversation_id))
    prompt = harmony.decode(scripted.prompts[1])
    assert "First question" in prompt and "FIRST-ANSWER" in prompt
    assert "SECRET-THOUGHT" not in prompt


def test_a_model_that_cannot_load_fails_the_turn_with_the_reason(make_user, live_state, monkeypatch,
                                                                 settings, tmp_path):
    monkeypatch.setattr(worker, "_engine", None)
    settings.GPTOSS_MODEL = str(tmp_path / "missing")
    turn = run_task(new_turn(make_user()))
    assert turn.status == "failed" and turn.error["code"] == "model_unavailable"
    assert "missing" in turn.error["message"]
    done = logged(turn)[-1]
    assert done["type"] == "turn.done" and done["error"] == turn.error
    assert done["metrics"]["queue_ms"] is not None and done["metrics"]["effort"] == "high"


def test_the_time_to_first_token_is_broken_into_its_parts(make_user, engine):
    """render, prefill (each round's), publish (first text to the channel layer), with the
    engine's kind and the turns running on the worker: the parts a slow first token hides in."""
    engine(calculator_call("12 * 34"), final_answer("408"))
    metrics = run_task(new_turn(make_user())).metrics
    assert metrics["engine"] == "scripted" and metrics["turns_running"] == 1
    assert metrics["render_ms"] > 0
    assert len(metrics["prefill_ms_by_round"]) == 2, "one prefill per generation (a tool round)"
    assert metrics["prefill_ms"] == pytest.approx(sum(metrics["prefill_ms_by_round"]), abs=0.2)
    assert metrics["publish_ms"] is not None and 0 <= metrics["publish_ms"] < metrics["total_ms"]
    assert metrics["render_ms"] < metrics["total_ms"], "both rounds' renders, within the turn"
