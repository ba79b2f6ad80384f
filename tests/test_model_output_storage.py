"""Whatever the model writes is stored, and the turn goes on: a tool name it made up longer than
any column limit (the call's recipient, the tool message's author), a long content type after
<|constrain|>, NUL characters in its text and in a call's arguments (which PostgreSQL's text and
jsonb refuse: they become U+FFFD, in the stream and in the database alike).

The tests run on the configured database (SQLite by default); the last one runs them all again
on PostgreSQL, the deployment's database, where the column limits and NUL used to fail the
turn: a pytest of this module in a subprocess whose DATABASE_URL names a PostgreSQL database
(pytest-django creates its test database and drops it)."""

from __future__ import annotations

import pytest

from factories import frame_log
from postgres_rerun import rerun_on_postgresql
from scripted_engine import final_answer
from webapp.chat import tasks, turns
from webapp.chat.frames import TurnRequest
from webapp.chat.replay import turn_frames

pytestmark = pytest.mark.django_db(transaction=True)

WORD = "internationalization"
LONG_TOOL = "_".join([WORD] * 11)  # 230 characters: with "functions.", over the old 200
LONG_TYPE = "x_" + "_".join([WORD] * 6)  # 128 characters: over the old 100 of a content type
REPLACED = "\ufffd"


@pytest.fixture
def engine(worker_engine):
    return worker_engine


def run_turn(user, tools=()):
    request = TurnRequest(request_id="r", conversation_id=None, text="Go.", effort="low",
                          settings={"builtin_tools": ["calculator"], "tools": list(tools)})
    turn, _ = turns.create_turn(user, request)
    tasks.execute(turn.id, "worker-1", resume=False)
    turn.refresh_from_db()
    return turn


def streamed(turn) -> tuple[dict[int, dict], dict[int, str]]:
    """The message.start frames and the texts the turn streamed, by message index."""
    starts, texts = {}, {}
    for frame in frame_log(turn.id):
        if frame["type"] == "message.start":
            starts[frame["index"]], texts[frame["index"]] = frame, ""
        elif frame["type"] == "message.delta":
            texts[frame["index"]] += frame["text"]
    return starts, texts


def assert_stored_as_streamed(turn):
    starts, texts = streamed(turn)
    stored = {m.index: m for m in turn.messages.all()}
    assert {i: m.text for i, m in stored.items()} == texts
    for index, start in starts.items():
        message = stored[index]
        assert (message.role, message.channel, message.recipient, message.content_type) == (
            start["role"], start["channel"], start["recipient"], start["content_type"])
        if "author" in start:
            assert message.author == start["author"]
    replayed = {f["index"]: f for f in turn_frames(turn) if f["type"] == "message.start"}
    assert {i: (f["recipient"], f["content_type"]) for i, f in replayed.items()} == {
        i: (f["recipient"], f["content_type"]) for i, f in starts.items()}


def test_a_call_to_a_long_made_up_tool_with_a_long_content_type_is_stored(make_user, engine):
    engine(f"<|channel|>commentary to=functions.{LONG_TOOL} <|constrain|>{LONG_TYPE}"
           "<|message|>{}<|call|>", final_answer("There is no such tool."))
    turn = run_turn(make_user("ada"))
    assert (turn.status, turn.error) == ("completed", None)
    call, answer, final = turn.messages.order_by("index")
    assert call.recipient == f"functions.{LONG_TOOL}" and len(call.recipient) == 240
    assert call.content_type == f"<|constrain|>{LONG_TYPE}"
    assert answer.author == f"functions.{LONG_TOOL}" and answer.text.startswith("error: there is no tool")
    assert final.text == "There is no such tool."
    assert_stored_as_streamed(turn)


def test_a_builder_function_with_a_long_name_is_called_answered_and_stored(make_user, engine):
    name = "_".join([WORD] * 7)  # a valid name the browser may declare (146 characters)
    engine(f"<|channel|>commentary to=functions.{name} <|constrain|>json"
           '<|message|>{"city": "Paris"}<|call|>', final_answer("Sunny."))
    ada = make_user("ada")
    turn = run_turn(ada, tools=[{"name": name, "description": "d", "parameters": None}])
    assert turn.status == "awaiting" and turn.pending_call["name"] == name
    turns.accept_tool_output(ada, turn.id, turn.pending_call["call_id"], "sunny")
    tasks.execute(turn.id, "worker-1", resume=True)
    turn.refresh_from_db()
    assert turn.status == "completed", turn.error
    call, answer, final = turn.messages.order_by("index")
    assert call.recipient == answer.author == f"functions.{name}"  # the author: over the old 100
    assert (answer.text, final.text) == ("sunny", "Sunny.")
    assert_stored_as_streamed(turn)


def test_nul_in_the_models_text_and_arguments_is_stored_as_streamed(make_user, engine):
    engine("<|channel|>analysis<|message|>a\x00b<|end|>"
           "<|start|>assistant<|channel|>commentary to=functions.get_weather <|constrain|>json"
           '<|message|>{"city": "Par\\u0000is", "\\u0000": 1}<|call|>')
    weather = {"name": "get_weather", "description": "Weather.", "parameters": None}
    turn = run_turn(make_user("ada"), tools=[weather])
    assert turn.status == "awaiting", turn.error
    analysis, call = turn.messages.order_by("index")
    assert analysis.text == f"a{REPLACED}b"
    assert turn.pending_call["arguments"] == {"city": f"Par{REPLACED}is", REPLACED: 1}
    [awaiting] = [f for f in frame_log(turn.id) if f["type"] == "tool.awaiting"]
    assert awaiting["arguments"] == turn.pending_call["arguments"], "streamed as stored"
    assert_stored_as_streamed(turn)


def test_nul_in_an_unparsable_header_is_stored_in_the_turns_error(make_user, engine):
    engine("<|channel|>bogus\x00channel<|message|>text<|end|>"
           "<|start|>assistant<|channel|>final<|message|>ok<|return|>")
    turn = run_turn(make_user("ada"))
    assert turn.status == "failed" and turn.error["code"] == "harmony_parse"
    assert "\x00" not in turn.error["message"]
    done = frame_log(turn.id)[-1]
    assert done["type"] == "turn.done" and done["error"] == turn.error
    assert_stored_as_streamed(turn)


def test_the_same_on_postgresql():
    rerun_on_postgresql(__file__, passed=4, name="storage")
