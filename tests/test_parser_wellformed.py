"""HarmonyStream on well-formed gpt-oss output: the same messages openai-harmony reads,
streamed as protocol frames, with nothing noted as malformed."""

import openai_harmony as oh
import pytest

from inference import harmony
from inference.harmony import CALL, RETURN
from parse_helpers import assert_frames_consistent, parse, parse_ids

WELL_FORMED = [
    "<|channel|>analysis<|message|>User says hi. Reply briefly.<|end|>"
    "<|start|>assistant<|channel|>final<|message|>Hello! How can I help?<|return|>",
    "<|channel|>analysis<|message|>Need to compute.<|end|>"
    "<|start|>assistant<|channel|>commentary to=functions.calculator <|constrain|>json"
    '<|message|>{"expression": "12*34"}<|call|>',
    "<|channel|>commentary<|message|>Let me check the time.<|end|>"
    '<|start|>assistant to=functions.clock<|channel|>commentary json<|message|>{"tz": "UTC"}<|call|>',
    "<|channel|>final<|message|>Multi-byte: 日本語, emoji 🎉👋🏽, accents é ü.<|return|>",
]


def harmony_reference(ids):
    return oh_messages_as_tuples(
        harmony.encoding().parse_messages_from_completion_tokens(ids, oh.Role.ASSISTANT))


def oh_messages_as_tuples(messages):
    return [(m.author.role.value, m.channel, m.recipient, m.content_type,
             "".join(c.text for c in m.content)) for m in messages]


@pytest.mark.parametrize("completion", WELL_FORMED)
def test_same_messages_as_openai_harmony(completion):
    parsed = parse(completion)
    ours = [(m.role, m.channel, m.recipient, m.content_type, m.text) for m in parsed.stream.messages]
    assert ours == harmony_reference(parsed.ids)
    assert parsed.stream.problems == [] and parsed.stream.notes == []
    assert_frames_consistent(parsed)


@pytest.mark.parametrize("completion", WELL_FORMED)
def test_every_token_belongs_to_one_message(completion):
    parsed = parse(completion)
    assert sum(len(m.token_ids) for m in parsed.stream.messages) == len(parsed.ids)
    assert [t for m in parsed.stream.messages for t in m.token_ids] == parsed.ids


def test_frames_carry_header_fields_and_indices_from_first_index():
    parsed = parse(WELL_FORMED[1], first_index=5)
    starts = [e for e in parsed.events if e["type"] == "message.start"]
    assert [s["index"] for s in starts] == [5, 6]
    assert starts[1] == {"type": "message.start", "turn_id": "t1", "index": 6, "role": "assistant",
                         "channel": "commentary", "recipient": "functions.calculator",
                         "content_type": "<|constrain|>json"}
    assert [m.index for m in parsed.stream.messages] == [5, 6]


def test_stop_token_is_the_terminator_generation_ended_on():
    assert parse(WELL_FORMED[0]).stream.stop_token == RETURN
    assert parse(WELL_FORMED[1]).stream.stop_token == CALL
    assert parse("<|channel|>final<|message|>cut").stream.stop_token is None


def test_message_start_comes_as_soon_as_the_header_is_complete():
    events = []
    from inference.parser import HarmonyStream

    stream = HarmonyStream("t1", events.append)
    for token_id in harmony.encode("<|channel|>final<|message|>"):
        stream.feed(token_id)
    assert [e["type"] for e in events] == ["message.start"]
    stream.feed(harmony.encode("Hi")[0])
    assert events[-1] == {"type": "message.delta", "turn_id": "t1", "index": 0, "text": "Hi"}


def test_a_character_split_across_tokens_is_emitted_whole():
    ids = harmony.encode("<|channel|>final<|message|>🎉<|return|>")
    emoji_ids = harmony.encode("🎉")
    assert len(emoji_ids) == 2  # the case under test: one character, two tokens
    parsed = parse_ids(ids)
    deltas = [e["text"] for e in parsed.events if e["type"] == "message.delta"]
    assert deltas == ["🎉"]


def test_tool_messages_written_by_the_model_keep_their_author():
    parsed = parse('<|start|>functions.clock to=assistant<|channel|>commentary<|message|>"12:00"<|end|>')
    (msg,) = parsed.stream.messages
    assert (msg.role, msg.author, msg.recipient, msg.text) == ("tool", "functions.clock", "assistant", '"12:00"')


def test_to_msg_round_trips_through_harmony_rendering():
    parsed = parse(WELL_FORMED[1])
    enc = harmony.encoding()
    rendered = []
    for msg in parsed.stream.messages:
        rendered += enc.render(harmony.to_harmony(msg.to_msg()))
    assert rendered[:2] == harmony.encode("<|start|>assistant")  # the prompt's part
    again = parse_ids(rendered[2:])
    fields = lambda ms: [(m.role, m.channel, m.recipient, m.content_type, m.text) for m in ms]
    assert fields(again.stream.messages) == fields(parsed.stream.messages)
    assert again.stream.problems == []
