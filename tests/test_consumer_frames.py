"""Frames the browser sends are validated: whatever is wrong with one (not JSON, not an
object, unknown type, too large, bad values, too many turns) is answered with an `error` frame
naming the problem, and the socket stays open. A valid turn.create is stored and queued."""

import json

import pytest
from asgiref.sync import async_to_sync

from factories import turn_create as create
from webapp.chat import live
from webapp.chat.models import Turn

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def socket(make_user, socket_for):
    return socket_for(make_user("ada"))


def test_malformed_json_is_an_error_frame(socket):
    [error] = socket.exchange('{"type": "turn.create", ')
    assert error["type"] == "error" and error["code"] == "bad_json"


def test_json_that_is_not_an_object_is_an_error_frame(socket):
    errors = socket.exchange("[1, 2]", '"ping"', "null")
    assert [e["code"] for e in errors] == ["bad_frame"] * 3


def test_unknown_type_is_an_error_frame_listing_known_types(socket):
    explode, untyped = socket.exchange({"type": "turn.explode"}, {"no": "type"})
    assert explode["code"] == untyped["code"] == "unknown_type"
    assert "turn.create" in explode["message"] and "turn.explode" in explode["message"]


def test_oversized_frame_is_refused_before_parsing(socket, settings):
    settings.CHAT_MAX_FRAME_BYTES = 2048
    [error] = socket.exchange(json.dumps(create(text="x" * 3000)))
    assert error["code"] == "too_large" and "2048" in error["message"]
    assert not Turn.objects.exists()


def test_bad_effort_is_an_error_frame_with_the_request_id(socket):
    errors = socket.exchange(create(effort="extreme"), create(effort=None), create(effort=2))
    for error in errors:
        assert error["code"] == "invalid" and "effort must be one of low, medium, high" in error["message"]
        assert error["request_id"] == "r1"
    assert not Turn.objects.exists()


def test_bad_turn_create_values_are_error_frames(socket, settings):
    settings.CHAT_MAX_TEXT_CHARS = 100
    bad = [
        create(text=""), create(text="   "), create(text=5), create(text="x" * 101),
        create(conversation_id="1"), create(conversation_id=True), create(conversation_id=-3),
        create(settings=[]), create(settings={"temperature": 5}), create(settings={"top_p": 0}),
        create(settings={"max_output_tokens": 0}), create(settings={"seed": 1.5}),
        create(settings={"builtin_tools": ["rm_rf"]}), create(settings={"colour": "red"}),
        create(settings={"tools": [{"name": "bad name"}]}),
        create(settings={"tools": [{"name": "f", "parameters": {"type": "object",
                                                                 "required": ["x"]}}]}),
        create(request_id=7),
        create(settings={"tools": [{"name": "f", "parameters": {
            "type": "object", "properties": {"x": {"type": "number", "minimum": "0"}}}}]}),
    ]
    errors = socket.exchange(*bad)
    assert [e["code"] for e in errors] == ["invalid"] * len(bad), errors
    assert "rm_rf" in errors[12]["message"]
    assert errors[-1]["message"] == ("tool f parameters at $.properties.x.minimum: "
                                     "'0' is not of type 'number'")
    assert not Turn.objects.exists()


def test_bad_turn_ids_are_error_frames(socket):
    errors = socket.exchange({"type": "turn.cancel"}, {"type": "turn.cancel", "turn_id": "1"},
                     {"type": "tool.output", "turn_id": 1, "call_id": "c", "output": 5},
                     {"type": "turn.subscribe", "turn_id": 0})
    assert [e["code"] for e in errors] == ["invalid"] * 4


def test_binary_frame_is_an_error_frame(socket):
    async def scenario():
        assert await socket.open()
        await socket.comm.send_to(bytes_data=b"\x00\x01")
        error = await socket.recv()
        await socket.send({"type": "ping"})
        assert await socket.recv() == {"type": "pong"}
        await socket.close()
        return error
    assert async_to_sync(scenario)()["code"] == "bad_frame"


def test_valid_turn_create_is_stored_queued_with_its_queue_position(socket):
    queued = socket.exchange(create(request_id="a"),
                             create(request_id="b", settings={"builtin_tools": ["calculator"]}))
    assert [q["type"] for q in queued] == ["turn.queued"] * 2
    assert [q["request_id"] for q in queued] == ["a", "b"]
    assert [q["queue_position"] for q in queued] == [0, 1]
    first, second = Turn.objects.order_by("id")
    assert (first.status, first.effort, first.user_text) == ("queued", "high", "What is 12 * 34?")
    assert first.settings["builtin_tools"] == ["calculator", "clock"], "absent: every built-in"
    assert second.settings["builtin_tools"] == ["calculator"]
    assert second.settings["max_output_tokens"] >= 1  # defaults filled in
    assert first.celery_task_id and first.celery_task_id != second.celery_task_id
    assert queued[0]["conversation_id"] != queued[1]["conversation_id"], "null: a new conversation"


def test_an_empty_builtin_tools_list_turns_the_built_in_tools_off(socket):
    socket.exchange(create(settings={"builtin_tools": []}))
    assert Turn.objects.get().settings["builtin_tools"] == []


def test_too_many_turns_in_any_60_seconds_are_rate_limited_saying_when_to_retry(
        make_user, socket_for, settings, monkeypatch):
    """A sliding window, not calendar minutes: a burst at the end of one minute is not followed
    by another at the start of the next. Each refusal says when the oldest start leaves the
    window."""
    settings.CHAT_TURNS_PER_MINUTE = 2
    start = 30_000_000 * 60  # the test's clock, never the machine's
    clock = [start + 30.0]
    monkeypatch.setattr(live, "now", lambda: clock[0])
    ada = make_user("ada")
    got = socket_for(ada).exchange(create(), create(), create(request_id="third"))
    assert [g["type"] for g in got] == ["turn.queued", "turn.queued", "error"]
    assert got[2]["code"] == "rate_limited" and got[2]["request_id"] == "third"
    assert got[2]["retry_after_s"] == 60.0
    assert Turn.objects.count() == 2

    clock[0] = start + 60.0  # a new calendar minute, but both starts are within 60 s
    [late] = socket_for(ada).exchange(create(request_id="late"))
    assert (late["code"], late["retry_after_s"]) == ("rate_limited", 30.0)
    clock[0] = start + 89.95
    [late] = socket_for(ada).exchange(create(request_id="late"))
    assert (late["code"], late["retry_after_s"]) == ("rate_limited", 0.1), "rounded up, never early"
    clock[0] = start + 90.0  # exactly when the retry said: both starts have left the window
    again = socket_for(ada).exchange(create(), create(), create())
    assert [g["type"] for g in again] == ["turn.queued", "turn.queued", "error"]
    assert Turn.objects.count() == 4
