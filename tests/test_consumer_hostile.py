"""Hostile frames, table-driven: every field of every client frame given every wrong type, out
of range values, NUL characters, lone surrogates and ids beyond 64 bits, and frames that are
too deep or too large. Each gets an `error` frame with a specific code naming the field, never
`internal_error`, nothing is stored, and the socket still answers a ping afterwards."""

from __future__ import annotations

import json

import pytest

from factories import turn_compare as compare, turn_create as create
from webapp.chat import frames
from webapp.chat.models import Conversation, Turn

pytestmark = pytest.mark.django_db(transaction=True)

NUL, SURROGATE = "a\x00b", "a\ud800b"
# every JSON type, and the numbers a 64-bit id or a float cannot hold
ANY_TYPE = [None, True, False, 0, 1, -1, 1.5, 1.0, "", "x", "1", [], [1], {}, {"a": 1}]
HUGE_INTS = [2**63, 2**64, 10**30, -(2**63), -(2**64)]


def not_(*kinds, nullable=False):
    """The values of ANY_TYPE that are not of `kinds` (bool is never an int here)."""
    def fits(value):
        if value is None:
            return nullable
        if isinstance(value, bool):
            return bool in kinds
        return isinstance(value, kinds)
    return [v for v in ANY_TYPE if not fits(v)]


def ids(nullable=False):
    return not_(int, nullable=nullable) + [0, -1, -(2**31)] + HUGE_INTS


def strings(nullable=False, empty_ok=True):
    bad = not_(str, nullable=nullable) + [NUL, SURROGATE, "\x00", "\udfff"]
    return bad if empty_ok else bad + [""]


def with_settings(**values):
    return create(settings=values)


def tool(**overrides):
    return with_settings(tools=[{"name": "f", "description": "d", **overrides}])


# (frame type, field as named in the error message, bad values, frame for one value)
TABLE = [
    ("turn.create", "request_id", not_(str) + [NUL, SURROGATE, "r" * 101],
     lambda v: create(request_id=v)),
    ("turn.create", "conversation_id", ids(nullable=True), lambda v: create(conversation_id=v)),
    ("turn.create", "regenerated_from", ids(nullable=True), lambda v: create(regenerated_from=v)),
    ("turn.create", "text", strings(empty_ok=False) + ["  \n ", "x" * 8001],
     lambda v: create(text=v)),
    ("turn.create", "effort", not_() + ["LOW", "extreme", NUL, SURROGATE],
     lambda v: create(effort=v)),
    ("turn.create", "settings", not_(dict, nullable=True), lambda v: create(settings=v)),
    ("turn.create", "settings", [{"colour": "red"}, {NUL: 1}, {SURROGATE: 1}],
     lambda v: create(settings=v)),
    ("turn.create", "settings.developer_instructions", strings(nullable=True) + ["x" * 8001],
     lambda v: with_settings(developer_instructions=v)),
    ("turn.create", "settings.tools", not_(list, nullable=True),
     lambda v: with_settings(tools=v)),
    ("turn.create", "settings.tools[0]", not_(dict) + [{"description": "no name"},
                                                       {"name": "f", "colour": "red"}],
     lambda v: with_settings(tools=[v])),
    ("turn.create", "settings.tools[0]", not_(str) + [NUL, SURROGATE],  # the name
     lambda v: tool(name=v)),
    ("turn.create", "tool name", ["", "bad name", "1f", "f-g", "é"], lambda v: tool(name=v)),
    ("turn.create", "settings.tools[0].description", not_(str, nullable=False) + [NUL, SURROGATE],
     lambda v: tool(description=v)),
    ("turn.create", "parameters", [v for v in not_(dict, nullable=True)]
     + [{"type": "string"}, {"type": "object", "required": ["x"]},
        {"type": "object", "properties": {"x": {"type": 5}}},
        {"type": "object", "properties": {"x": {"minimum": "0"}}}],
     lambda v: tool(parameters=v)),
    ("turn.create", "settings.tools[0].parameters", [{"type": "object", "description": NUL},
                                                     {"type": "object", SURROGATE: 1}],
     lambda v: tool(parameters=v)),
    ("turn.create", "settings.builtin_tools", not_(list) + [[1], [None], [["calculator"]]],
     lambda v: with_settings(builtin_tools=v)),
    ("turn.create", "settings.builtin_tools[0]", [[NUL], [SURROGATE]],
     lambda v: with_settings(builtin_tools=v)),
    ("turn.create", "rm_rf", [["rm_rf"]], lambda v: with_settings(builtin_tools=v)),
    ("turn.create", "declared twice", [["calculator", "calculator"]],
     lambda v: with_settings(builtin_tools=v)),
    ("turn.create", "settings.temperature", not_(int, float) + [-0.1, 2.01, 1e308, 10**30],
     lambda v: with_settings(temperature=v)),
    ("turn.create", "settings.top_p", not_(int, float) + [0, -1, 1.01, 1e308, 10**30],
     lambda v: with_settings(top_p=v)),
    ("turn.create", "settings.max_output_tokens", not_(int) + [0, -1, 4097] + HUGE_INTS,
     lambda v: with_settings(max_output_tokens=v)),
    ("turn.create", "settings.seed", not_(int, nullable=True) + [-1] + HUGE_INTS,
     lambda v: with_settings(seed=v)),
    ("turn.compare", "request_id", not_(str) + [NUL, SURROGATE, "r" * 101],
     lambda v: compare(request_id=v)),
    ("turn.compare", "conversation_id", ids(nullable=True), lambda v: compare(conversation_id=v)),
    ("turn.compare", "turn_id", ids(),
     lambda v: {"type": "turn.compare", "request_id": "c1", "turn_id": v}),
    ("turn.compare", "text", strings(empty_ok=False) + ["  \n ", "x" * 8001],
     lambda v: compare(text=v)),
    ("turn.compare", "text", ["x", ""],  # a turn's comparison takes the turn's own text
     lambda v: {"type": "turn.compare", "request_id": "c1", "turn_id": 1, "text": v}),
    ("turn.compare", "effort", ["low", "high", None], lambda v: compare(effort=v)),
    ("turn.compare", "settings", not_(dict, nullable=True) + [{"colour": "red"}],
     lambda v: compare(settings=v)),
    ("turn.compare", "settings.temperature", not_(int, float) + [-0.1, 2.01],
     lambda v: compare(settings={"temperature": v})),
    ("turn.cancel", "turn_id", ids(), lambda v: {"type": "turn.cancel", "turn_id": v}),
    ("turn.subscribe", "turn_id", ids(), lambda v: {"type": "turn.subscribe", "turn_id": v}),
    ("tool.output", "turn_id", ids(),
     lambda v: {"type": "tool.output", "turn_id": v, "call_id": "c1", "output": "4"}),
    ("tool.output", "call_id", strings(empty_ok=False) + ["c" * 101],
     lambda v: {"type": "tool.output", "turn_id": 1, "call_id": v, "output": "4"}),
    ("tool.output", "output", strings() + ["x" * 8001],
     lambda v: {"type": "tool.output", "turn_id": 1, "call_id": "c1", "output": v}),
]


def cases(frame_type):
    return [(field, value, make(value)) for kind, field, values, make in TABLE
            if kind == frame_type for value in values]


def test_the_table_covers_every_client_frame_type_and_field():
    from webapp.chat.consumers import ChatConsumer

    assert {kind for kind, *_ in TABLE} == set(ChatConsumer.HANDLERS) - {"ping"}
    named = {field for _, field, *_ in TABLE}
    assert {f"settings.{key}" for key in frames.SETTINGS_KEYS} <= named
    assert {"request_id", "conversation_id", "regenerated_from", "text", "effort", "settings",
            "turn_id", "call_id", "output"} <= named


@pytest.mark.parametrize("frame_type", ["turn.create", "turn.compare", "turn.cancel",
                                        "turn.subscribe", "tool.output"])
def test_every_bad_value_of_every_field_is_an_invalid_error_naming_it(frame_type, make_user,
                                                                      socket_for, settings):
    settings.CHAT_MAX_TEXT_CHARS = 8000
    settings.CHAT_MAX_OUTPUT_TOKENS = 4096
    table = cases(frame_type)
    errors = socket_for(make_user("ada")).exchange(*[frame for _, _, frame in table])
    for (field, value, frame), error in zip(table, errors):
        assert error["type"] == "error", (frame, error)
        assert error["code"] == "invalid", (field, value, error)
        assert field in error["message"], (field, value, error["message"])
        if isinstance(frame.get("request_id"), str) and len(frame["request_id"]) <= 100:
            assert error["request_id"] == frame["request_id"]
        else:
            assert "request_id" not in error or error["request_id"] is None
    assert not Turn.objects.exists() and not Conversation.objects.exists()


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


RAW = [  # (text sent, code, a part of the message)
    (nested(5000), "too_deep", "32 levels"),
    (nested(100_000), "too_large", "the limit is 65536"),
    ('{"type": "ping", "x": ' + nested(5000) + "}", "too_deep", "32 levels"),
    ('{"type": "ping", "x": ' + nested(32) + "}", "too_deep", "32 levels"),
    ('{"type": "ping", "x": ' + "{\"a\": " * 40 + "1" + "}" * 40 + "}", "too_deep", "32 levels"),
    (json.dumps(create(settings={"tools": [{"name": "f", "parameters": json.loads(
        "{\"type\": \"object\", \"properties\": {\"x\": " * 20 + "{}" + "}}" * 20)}]})),
     "too_deep", "32 levels"),
    ('{"type": "turn.create", "text": NaN}', "bad_json", "NaN is not JSON"),
    ('{"type": "turn.create", "settings": {"temperature": Infinity}}', "bad_json",
     "Infinity is not JSON"),
    ('{"type": "turn.cancel", "turn_id": -Infinity}', "bad_json", "-Infinity is not JSON"),
    ('{"type": "turn.cancel", "turn_id": ' + "9" * 5000 + "}", "bad_json", "digits"),
    ('{"type": "turn.cancel", "turn_id": 1e999}', "invalid", "turn_id"),
    ('{"type": "ping"', "bad_json", "not JSON"),
    (" ", "bad_json", "not JSON"),
    ("\x00", "bad_json", "not JSON"),
    ('"ping"', "bad_frame", "JSON object"),
    ("[]", "bad_frame", "JSON object"),
    ('{"type": "ping"}\x00', "bad_json", "not JSON"),
    ('{"type": "ping", "x": "\x00"}', "bad_json", "not JSON"),  # raw control character
    ('{"type": "ping", "x": "\\u0000"}', "invalid", "x contains NUL"),
    ('{"type": "ping", "x": "\\ud83d"}', "invalid", "x contains a lone surrogate (U+D83D)"),
    ('{"type": "ping", "\\u0000": 1}', "invalid", "a key of frame contains NUL"),
    ('{"type": "ping", "x": "\ud800"}', "invalid", "lone surrogate"),  # unescaped, in the str
]
for bad_type in [None, True, 0, 1.5, [], ["ping"], {}, {"type": "ping"}, "", "PING",
                 "turn.create ", "x" * 1000]:
    RAW.append((json.dumps({"type": bad_type}), "unknown_type", "expected one of"))
RAW.append(('{"no": "type"}', "unknown_type", "expected one of"))
RAW.append(('{"type": "\\u0000"}', "invalid", "type contains NUL"))
RAW.append(('{"type": "\\udc00"}', "invalid", "type contains a lone surrogate"))


def test_malformed_frames_get_specific_codes_and_the_socket_stays_usable(make_user, socket_for):
    errors = socket_for(make_user("ada")).exchange(*[text for text, _, _ in RAW])
    for (text, code, part), error in zip(RAW, errors):
        assert (error["type"], error["code"]) == ("error", code), (text[:80], error)
        assert part in error["message"], (text[:80], error["message"])
        assert len(error["message"]) < 300, "a huge value is not echoed back"
    assert not Turn.objects.exists()


def test_a_huge_or_unstorable_request_id_is_not_echoed(make_user, socket_for):
    errors = socket_for(make_user("ada")).exchange(
        create(request_id="r" * 5000), create(request_id=SURROGATE, effort="x"),
        {"type": "turn.cancel", "turn_id": 2**64})
    assert [e["code"] for e in errors] == ["invalid"] * 3
    assert errors[0].get("request_id") is None and errors[2].get("turn_id") is None
    assert len(json.dumps(errors[0])) < 300


def depth(value) -> int:
    if isinstance(value, dict):
        return 1 + max(map(depth, value.values()), default=0)
    if isinstance(value, list):
        return 1 + max(map(depth, value), default=0)
    return 0


def test_deep_but_allowed_frames_and_edge_ids_are_accepted(make_user, socket_for):
    """The limits are no stricter than they say: 32 levels of JSON, ids up to 2^63-1 (not
    found, not refused), a seed of 2^63-1."""
    schema = json.loads("{\"type\": \"object\", \"properties\": {\"x\": " * 14 + "true" + "}}" * 14)
    frame = create(settings={"seed": 2**63 - 1, "tools": [{"name": "f", "parameters": schema}]})
    assert depth(frame) == frames.MAX_DEPTH == 32
    queued, missing = socket_for(make_user("ada")).exchange(
        frame, {"type": "turn.cancel", "turn_id": 2**63 - 1})
    assert queued["type"] == "turn.queued", queued
    assert (missing["code"], missing["turn_id"]) == ("not_found", 2**63 - 1)
