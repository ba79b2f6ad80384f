"""HarmonyStream on malformed output: it never raises, never drops text, places what it
can (with a note) and puts the rest on the `unparsed` channel (with a problem)."""

import random

import pytest

from inference import harmony
from inference.harmony import CALL, CHANNEL, END, MESSAGE, RETURN, START
from inference.parser import MAX_HEADER_TOKENS, HarmonyStream
from parse_helpers import assert_frames_consistent, assert_nothing_lost, parse, parse_ids


def fields(parsed):
    return [(m.channel, m.recipient, m.text) for m in parsed.stream.messages]


@pytest.mark.parametrize("completion", [
    ' functions.get_weather<|channel|>commentary json<|message|>{"city": "Paris"}<|call|>',
    ' to=functions.get_weather<|channel|>commentary json<|message|>{"city": "Paris"}<|call|>',
    '<|channel|>commentaryto=functions.get_weather json<|message|>{"city": "Paris"}<|call|>',
    '<|channel|>commentary to=functions.get_weather<|channel|>commentary json<|message|>{"city": "Paris"}<|call|>',
    '<|channel|>commentary json to=functions.get_weather<|message|>{"city": "Paris"}<|call|>',
    '<|channel|>commentary <|constrain|>json to=functions.get_weather<|message|>{"city": "Paris"}<|call|>',
])
def test_recipient_in_odd_places_is_cleaned(completion):
    parsed = parse(completion)
    assert fields(parsed) == [("commentary", "functions.get_weather", '{"city": "Paris"}')]
    assert parsed.stream.problems == []
    assert parsed.stream.stop_token == CALL
    assert_frames_consistent(parsed)


def test_recipient_glued_to_the_role_after_a_new_start():
    parsed = parse("<|channel|>analysis<|message|>Call it.<|end|>"
                   '<|start|>assistantto=functions.clock<|channel|>commentary<|message|>{}<|call|>')
    assert fields(parsed) == [("analysis", None, "Call it."), ("commentary", "functions.clock", "{}")]
    assert parsed.stream.problems == []


def test_missing_message_token_before_prose_keeps_the_channel():
    parsed = parse("<|channel|>final The answer is 408.<|return|>")
    assert fields(parsed) == [("final", None, "The answer is 408.")]
    assert parsed.stream.problems == []
    assert any("missing <|message|>" in n for n in parsed.stream.notes)


def test_missing_message_token_before_json_keeps_the_call():
    parsed = parse('<|channel|>commentary to=functions.calculator json{"expression": "2+2"}<|call|>')
    assert parsed.stream.messages[0].content_type == "json"
    assert fields(parsed) == [("commentary", "functions.calculator", '{"expression": "2+2"}')]


@pytest.mark.parametrize("body", ["json is a format", "e.g. this one", "json", "code first"])
def test_missing_message_token_never_takes_body_words_for_header(body):
    parsed = parse(f"<|channel|>final {body}<|end|>")
    assert fields(parsed) == [("final", None, body)]


def test_missing_message_token_body_streams_before_the_end():
    events = []
    stream = HarmonyStream("t1", events.append)
    for token_id in harmony.encode("<|channel|>analysis We need to add the numbers and then"):
        stream.feed(token_id)
    assert events[0]["type"] == "message.start" and events[0]["channel"] == "analysis"
    assert "".join(e["text"] for e in events[1:]).startswith("We need to add")


def test_stray_return_after_end_is_noted_not_failed():
    parsed = parse("<|channel|>final<|message|>Done.<|end|><|return|>")
    assert fields(parsed) == [("final", None, "Done.")]
    assert parsed.stream.problems == [] and parsed.stream.stop_token == RETURN
    assert any("stray <|return|>" in n for n in parsed.stream.notes)


def test_return_in_the_middle_closes_the_message_and_parsing_goes_on():
    parsed = parse("<|channel|>analysis<|message|>thinking<|return|>"
                   "<|start|>assistant<|channel|>final<|message|>answer<|return|>")
    assert fields(parsed) == [("analysis", None, "thinking"), ("final", None, "answer")]
    assert parsed.stream.problems == []


def test_text_outside_messages_becomes_unparsed_with_a_problem():
    parsed = parse("<|channel|>final<|message|>Hi.<|end|>And some trailing words.")
    assert fields(parsed) == [("final", None, "Hi."), ("unparsed", None, "And some trailing words.")]
    assert parsed.stream.problems == ["message 1: text outside messages"]
    assert_frames_consistent(parsed)


def test_text_outside_messages_before_a_new_start_is_kept():
    parsed = parse("<|channel|>analysis<|message|>a<|end|> 364 <|start|>assistant<|channel|>final<|message|>b<|return|>")
    assert fields(parsed) == [("analysis", None, "a"), ("unparsed", None, "364 "), ("final", None, "b")]
    assert parsed.stream.problems == ["message 1: text outside messages"]


def test_text_outside_messages_before_a_new_channel_is_kept():
    parsed = parse("<|channel|>analysis<|message|>a<|end|>Hello<|channel|>final<|message|>b<|return|>")
    assert fields(parsed) == [("analysis", None, "a"), ("unparsed", None, "Hello"), ("final", None, "b")]


def test_whitespace_between_messages_is_no_problem():
    parsed = parse("<|channel|>analysis<|message|>a<|end|>\n\n<|start|>assistant<|channel|>final<|message|>b<|return|>")
    assert fields(parsed) == [("analysis", None, "a"), ("final", None, "b")]
    assert parsed.stream.problems == [] and parsed.stream.notes == []


def test_header_without_start_after_end_is_recovered():
    parsed = parse("<|channel|>analysis<|message|>a<|end|>assistant<|channel|>final<|message|>b<|return|>")
    assert fields(parsed) == [("analysis", None, "a"), ("final", None, "b")]
    parsed = parse("<|channel|>analysis<|message|>a<|end|><|channel|>final<|message|>b<|return|>")
    assert fields(parsed) == [("analysis", None, "a"), ("final", None, "b")]
    assert parsed.stream.problems == []


@pytest.mark.parametrize("completion", [
    "<|start|>assistant<|channel|>final<|message|>Twice started.<|return|>",
    "<|start|><|start|>assistant<|channel|>final<|message|>Twice started.<|return|>",
    "<|channel|>analysis<|message|>x<|end|><|start|><|start|>assistant<|channel|>final<|message|>Twice started.<|return|>",
])
def test_doubled_start_is_ignored(completion):
    parsed = parse(completion)
    assert parsed.stream.messages[-1].channel == "final"
    assert parsed.stream.messages[-1].text == "Twice started."
    assert parsed.stream.problems == []


def test_tool_call_on_analysis_moves_to_commentary():
    parsed = parse('<|channel|>analysis to=functions.calculator code<|message|>{"expression": "1+1"}<|call|>')
    assert fields(parsed) == [("commentary", "functions.calculator", '{"expression": "1+1"}')]
    assert parsed.stream.problems == []
    assert any("analysis channel moved to commentary" in n for n in parsed.stream.notes)


def test_builtin_harmony_tools_may_stay_on_analysis():
    parsed = parse('<|channel|>analysis to=browser.search code<|message|>{"query": "x"}<|call|>')
    assert fields(parsed) == [("analysis", "browser.search", '{"query": "x"}')]


def test_bare_json_before_return_is_unparsed_but_kept():
    parsed = parse('<|channel|>final<|message|>Sure.<|end|>{"city": "Paris"}<|return|>')
    assert fields(parsed) == [("final", None, "Sure."), ("unparsed", None, '{"city": "Paris"}')]
    assert parsed.stream.problems and parsed.stream.stop_token == RETURN


def test_call_ended_with_return_is_still_a_call_message():
    parsed = parse('<|channel|>commentary to=functions.clock json<|message|>{}<|return|>')
    assert fields(parsed) == [("commentary", "functions.clock", "{}")]
    assert parsed.stream.problems == [] and any("<|return|>" in n for n in parsed.stream.notes)


def test_call_without_channel_goes_to_commentary():
    parsed = parse(' to=functions.clock json<|message|>{}<|call|>')
    assert fields(parsed) == [("commentary", "functions.clock", "{}")]
    assert parsed.stream.problems == []


def test_body_without_any_header_is_unparsed():
    parsed = parse("Just an answer with no header.<|return|>")
    assert fields(parsed) == [("unparsed", None, "Just an answer with no header.")]
    assert parsed.stream.problems


def test_unknown_channel_is_unparsed_and_named_in_the_problem():
    parsed = parse("<|channel|>thoughts<|message|>hidden thoughts<|end|>")
    assert fields(parsed) == [("unparsed", None, "hidden thoughts")]
    assert "thoughts" in parsed.stream.problems[0]


def test_missing_end_before_a_new_header_closes_the_message():
    parsed = parse("<|channel|>analysis<|message|>hmm<|channel|>final<|message|>yes<|return|>")
    assert fields(parsed) == [("analysis", None, "hmm"), ("final", None, "yes")]
    parsed = parse("<|channel|>analysis<|message|>hmm<|start|>assistant<|channel|>final<|message|>yes<|return|>")
    assert fields(parsed) == [("analysis", None, "hmm"), ("final", None, "yes")]
    assert parsed.stream.problems == []


def test_stray_special_tokens_inside_a_body_are_ignored_not_text():
    parsed = parse("<|channel|>final<|message|>a<|message|>b<|constrain|>c<|endoftext|>d<|return|>")
    assert fields(parsed) == [("final", None, "abcd")]
    assert len(parsed.stream.notes) == 3


def test_generation_cut_off_mid_message_is_closed_by_finish():
    parsed = parse("<|channel|>analysis<|message|>I was about to")
    assert fields(parsed) == [("analysis", None, "I was about to")]
    assert parsed.events[-1]["type"] == "message.end"
    assert parsed.stream.stop_token is None and parsed.stream.problems == []


def test_cut_off_inside_a_character_keeps_a_replacement_not_nothing():
    ids = harmony.encode("<|channel|>final<|message|>ok ") + harmony.encode("🎉")[:1]
    parsed = parse_ids(ids)
    assert parsed.stream.messages[0].text == "ok \ufffd"


def test_cut_off_in_a_header_with_body_words_keeps_them():
    parsed = parse("<|channel|>final Hello")
    assert fields(parsed) == [("final", None, "Hello")]


def test_runaway_header_becomes_unparsed():
    parsed = parse("<|channel|>final" + " to=functions.x" * MAX_HEADER_TOKENS + "<|message|>ok")
    assert parsed.stream.messages[0].channel == "unparsed"
    assert "to=functions.x" in parsed.text and "ok" in parsed.text
    assert parsed.stream.problems


# -- randomised: corrupt well-formed conversations and check nothing is lost ---------------

WORDS = ["The", "answer", "is", "408.", "日本語", "🎉👋🏽", "{\"a\":", "1}", "json", "e.g.",
         "analysis", "final", "commentary", "to", "code", "über", "x=1", "\n", "—", "functions"]
HEADERS = ["<|channel|>analysis", "<|channel|>final", "<|channel|>commentary",
           "<|channel|>commentary to=functions.calculator <|constrain|>json",
           " to=functions.clock<|channel|>commentary json"]


def corrupted_completion(rng):
    parts, bodies = [], []
    for n in range(rng.randint(1, 4)):
        body = " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 8)))
        # a body word first that no header has, so the test's own expectation is sound
        body = rng.choice(["Well,", "Hmm:", "{", "Okay…", "(", "1."]) + " " + body
        bodies.append(body)
        start = "" if n == 0 else "<|start|>assistant"
        header = rng.choice(HEADERS)
        if rng.random() < 0.3 and "to=" in header and header.startswith(" "):
            header = header.lstrip()
        msg = [start, header, "<|message|>", body, rng.choice(["<|end|>", "<|call|>", "<|return|>"])]
        for i, corruption in enumerate([0.2, 0, 0.2, 0, 0.2]):  # drop start, <|message|>, end
            if rng.random() < corruption and msg[i] != body:
                msg[i] = ""
        if rng.random() < 0.1:
            msg.insert(0, "<|start|>")
        if rng.random() < 0.15:  # stray tokens or text after the message
            stray = rng.choice(["<|return|>", "<|end|>", "<|start|>", "stray words", " 364 ", "Hello"])
            msg.append(stray)
            if "<|" not in stray:
                bodies.append(stray)
        parts += msg
    cut = rng.random() < 0.2
    return "".join(parts), bodies, cut


@pytest.mark.parametrize("seed", range(300))
def test_random_corruptions_never_raise_and_never_lose_body_text(seed):
    rng = random.Random(seed)
    completion, bodies, cut = corrupted_completion(rng)
    ids = harmony.encode(completion)
    if cut:
        ids = ids[: rng.randint(1, len(ids))]
        bodies = []  # a cut may end anywhere; only check the frames
    parsed = parse_ids(ids)
    assert_frames_consistent(parsed)
    assert_nothing_lost(parsed, *[b.strip() for b in bodies])


@pytest.mark.parametrize("seed", range(50))
def test_random_token_soup_never_raises(seed):
    rng = random.Random(seed)
    specials = [START, END, MESSAGE, CHANNEL, RETURN, CALL, harmony.CONSTRAIN, 199999, 200001]
    text_ids = harmony.encode("hello to=functions.x analysis final json 🎉 日本")
    ids = [rng.choice(specials if rng.random() < 0.4 else text_ids) for _ in range(rng.randint(1, 80))]
    assert_frames_consistent(parse_ids(ids))
