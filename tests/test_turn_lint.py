"""A turn's conformance lint is stored when it ends and sent with its turn.done: run by the
worker's own code (webapp.chat.tasks) on a scripted engine, read back from the database, the
turn's frame log and its replay; a turn paused on a call is linted only once it ends, by the
worker or by the server that cancels it; a turn whose worker died is linted when it is failed;
turns stored before the lint existed are linted by `manage.py lint_turns`."""

import io

import pytest
from django.core.management import call_command

from factories import WEATHER_TOOL, frame_log, stored_turn
from scripted_engine import calculator_call, final_answer
from webapp.chat import tasks, turns
from webapp.chat.frames import TurnRequest
from webapp.chat.models import Message, Turn
from webapp.chat.replay import turn_frames

pytestmark = pytest.mark.django_db(transaction=True)

# a function call the model put on the analysis channel (the parser moves it to commentary)
CALL_ON_ANALYSIS = ('<|channel|>analysis to=functions.calculator <|constrain|>json'
                    '<|message|>{"expression": "12 * 34"}<|call|>')


def run_turn(user, *completions, engine, settings=None, resume=False, turn=None):
    engine(*completions)
    if turn is None:
        request = TurnRequest(request_id="r", conversation_id=None, text="What is 12 * 34?",
                              effort="low", settings=settings or {"builtin_tools": ["calculator"]})
        turn, _ = turns.create_turn(user, request)
    tasks.execute(turn.id, "worker-1", resume=resume)
    turn.refresh_from_db()
    return turn


def await_weather(user, engine, channel, arguments) -> Turn:
    """A turn paused on the builder's get_weather, called on `channel` with `arguments`."""
    turn = run_turn(user, f'<|channel|>{channel} to=functions.get_weather <|constrain|>json'
                          f'<|message|>{arguments}<|call|>',
                    engine=engine, settings={"builtin_tools": [], "tools": [WEATHER_TOOL]})
    assert turn.status == "awaiting" and turn.lint is None
    return turn


def done_frame(turn) -> dict:
    frames = frame_log(turn.id)
    assert frames[-1]["type"] == "turn.done"
    return frames[-1]


def test_a_clean_turn_stores_and_sends_an_empty_lint(make_user, worker_engine):
    turn = run_turn(make_user(), calculator_call("12 * 34"), final_answer("**408**"),
                    engine=worker_engine)
    assert turn.status == "completed" and turn.lint == []
    assert done_frame(turn)["lint"] == []
    assert turn_frames(turn)[-1]["lint"] == []


def test_a_turn_with_findings_stores_them_and_sends_them_in_turn_done_and_its_replay(
        make_user, worker_engine):
    turn = run_turn(make_user(), CALL_ON_ANALYSIS, "<|channel|>final<|message|>408<|end|>",
                    engine=worker_engine)
    assert turn.status == "length"  # the generation ended without a stop token
    call = turn.messages.get(recipient="functions.calculator")
    assert call.channel == "commentary", "the parser moved it; the lint reads the token ids"
    assert [(f["code"], f["index"]) for f in turn.lint] == [("call_on_analysis", call.index)]
    assert done_frame(turn)["lint"] == turn.lint
    assert turn_frames(turn)[-1]["lint"] == turn.lint


def test_a_turn_paused_on_a_call_is_linted_when_it_ends(make_user, worker_engine):
    ada = make_user()
    turn = await_weather(ada, worker_engine, "commentary", '{"town": "Paris"}')
    turns.accept_tool_output(ada, turn.id, turn.pending_call["call_id"], "sunny")
    turn = run_turn(ada, "<|channel|>final<|message|>Sunny.<|return|>", engine=worker_engine,
                    resume=True, turn=turn)
    assert turn.status == "completed"
    assert [f["code"] for f in turn.lint] == ["arguments_mismatch"]
    assert done_frame(turn)["lint"] == turn.lint


def test_a_turn_cancelled_while_awaiting_is_linted_by_the_server(make_user, worker_engine):
    ada = make_user()
    turn = await_weather(ada, worker_engine, "analysis", '{"city": "Paris"}')
    turn, done = turns.cancel_idle(ada, turn.id)
    turn.refresh_from_db()
    assert [f["code"] for f in turn.lint] == ["call_on_analysis"]
    assert done["type"] == "turn.done" and done["lint"] == turn.lint


def test_a_turn_whose_worker_died_is_linted_when_it_is_failed(make_user, live_state):
    turn = stored_turn(make_user(), status="running", worker="celery@gone")
    Message.objects.create(turn=turn, index=0, role="assistant", channel="unparsed", text="364 ")
    [done] = turns.fail_stale_turns([turn.id])
    turn.refresh_from_db()
    assert turn.error["code"] == "worker_lost"
    assert [f["code"] for f in turn.lint] == ["unparsed_text"], "no final or stop expected: it was cut off"
    assert done["lint"] == turn.lint


def test_lint_turns_lints_the_turns_stored_before_the_lint(make_user, worker_engine):
    ada = make_user()
    clean = run_turn(ada, final_answer("Hi."), engine=worker_engine)
    flagged = run_turn(ada, "<|channel|>analysis<|message|>Hmm.<|return|>", engine=worker_engine)
    assert flagged.lint == [{"code": "no_final", "index": None,
                             "message": "the turn ended completed without a final message"}]
    queued = Turn.objects.create(conversation=clean.conversation, user_text="later", effort="low")
    Turn.objects.filter(id__in=[clean.id, flagged.id]).update(lint=None)

    out = io.StringIO()
    call_command("lint_turns", stdout=out)
    assert out.getvalue().strip() == "linted 2 turn(s), 1 with findings"
    clean.refresh_from_db(), flagged.refresh_from_db(), queued.refresh_from_db()
    assert clean.lint == [] and [f["code"] for f in flagged.lint] == ["no_final"]
    assert queued.lint is None, "a turn that has not ended is not linted"

    Turn.objects.filter(id=flagged.id).update(lint=[])
    call_command("lint_turns", stdout=out)
    flagged.refresh_from_db()
    assert flagged.lint == [], "only turns never linted, without --all"
    call_command("lint_turns", "--all", stdout=out)
    flagged.refresh_from_db()
    assert [f["code"] for f in flagged.lint] == ["no_final"]
