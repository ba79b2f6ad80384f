"""The harmony conformance lint (inference/lint.py): each check fires on a turn crafted to
break it and stays quiet on clean turns, and on the completions that broke other projects'
parsers (tests/data/broken_completions.json) it finds what each one broke. Turns are the real
parser's messages of a completion, ended as the turn loop would end them."""

import json
from pathlib import Path

import pytest

from inference import harmony, lint
from parse_helpers import parse, parse_ids

WEATHER = harmony.FunctionTool("get_weather", "Weather in a city.", {
    "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]})
SETTINGS = harmony.TurnSettings(tools=[WEATHER], builtin_tools=["calculator", "clock", "python"])
DECLARED = lint.Declared.from_settings(SETTINGS)

THINK = "<|channel|>analysis<|message|>Think.<|end|><|start|>assistant"
ANSWER = "<|channel|>final<|message|>Answer.<|return|>"
CALC = '<|channel|>commentary to=functions.calculator <|constrain|>json<|message|>{"expression": "2+2"}<|call|>'


def ending(stream) -> tuple[str, str | None]:
    """How the turn loop ends a turn of this one generation (inference/turn.py)."""
    if stream.problems:
        return "failed", "harmony_parse"
    if stream.stop_token is None:
        return "length", None
    return ("awaiting" if stream.stop_token == harmony.CALL else "completed"), None


def findings(parsed, status=None, error_code=None, declared=DECLARED) -> list[dict]:
    derived = ending(parsed.stream)
    return lint.lint_turn(parsed.stream.messages, declared, status or derived[0],
                          error_code if status else derived[1])


def codes(completion: str, **kwargs) -> list[str]:
    return [f["code"] for f in findings(parse(completion), **kwargs)]


def plain(text: str) -> list[int]:
    """Token ids of `text` as ordinary text, markup such as <|channel|> spelled out in it."""
    return list(harmony.encoding().encode(text, allowed_special=set(), disallowed_special=()))


def test_declared_tools_come_from_the_settings_python_even_where_it_is_off():
    assert set(DECLARED.functions) == {"calculator", "clock", "get_weather"}
    assert DECLARED.functions["get_weather"] == WEATHER.parameters
    assert DECLARED.system == {"python"}
    assert lint.Declared.from_settings(harmony.TurnSettings()) == lint.Declared()


@pytest.mark.parametrize("completion, status", [
    (THINK + ANSWER, None),
    (ANSWER, None),
    (THINK + CALC, None),  # paused on a call: no final expected yet
    ("<|channel|>analysis to=python code<|message|>print(2 + 2)<|call|>", None),
    ("<|start|>assistant to=functions.get_weather<|channel|>commentary <|constrain|>json"
     '<|message|>{"city": "Lima"}<|call|>', None),  # the recipient in the role: harmony allows it
    ("<|channel|>commentary to=functions.clock json<|message|>{}<|call|>", None),
    ('<|channel|>final <|constrain|>json<|message|>{"ok": true}<|return|>', None),
    ("<|channel|>analysis<|message|>The answer is 4.<|end|><|start|>assistant"
     "<|channel|>final<|message|>The answer is 4.<|return|>", None),  # too short to be a restatement
    (THINK, "cancelled"),  # stopped by the user: no final, no stop token, nothing to say
    ("<|channel|>final<|message|>Bonj", "length"),  # cut off by the budget after a final began
    (THINK, "failed"),  # failed from outside (engine_error): the ending is excused
], ids=["answer", "final-only", "call", "python", "recipient-in-role", "bare-json", "json-final",
        "short-restatement", "cancelled", "length", "engine-failure"])
def test_clean_turns_have_no_findings(completion, status):
    assert codes(completion, status=status, error_code="engine_error" if status == "failed" else None) == []


@pytest.mark.parametrize("completion, expected", [
    ("<|channel|>analysis<|message|>So 364.<|end|> 364 <|start|>assistant"
     "<|channel|>final<|message|>**364**<|return|>", ["unparsed_text"]),
    ("<|channel|>analysis to=functions.calculator <|constrain|>json"
     '<|message|>{"expression": "2+2"}<|call|>', ["call_on_analysis"]),
    (THINK + "<|channel|>final The answer is 4.<|return|>", ["malformed_header"]),
    (THINK + "<|start|><|channel|>final<|message|>4<|return|>", ["malformed_header"]),
    ("<|channel|>commentaryto=functions.calculator <|constrain|>json"
     '<|message|>{"expression": "2+2"}<|call|>', ["bad_recipient"]),
    ("<|start|>calculator<|channel|>commentary<|message|>{}<|call|>", ["bad_recipient", "unknown_tool"]),
    ('<|channel|>commentary to=functions.get_stock <|constrain|>json<|message|>{"ticker": "X"}<|call|>',
     ["unknown_tool"]),
    ('<|channel|>commentary to=functions.calculator <|constrain|>yaml<|message|>{"expression": "1"}<|call|>',
     ["bad_content_type"]),
    ("<|channel|>analysis to=python <|constrain|>json<|message|>print(1)<|call|>", ["bad_content_type"]),
    ('<|channel|>commentary to=functions.calculator <|constrain|>json<|message|>{"expression": 2+2}<|call|>',
     ["invalid_json"]),
    ('<|channel|>commentary to=functions.calculator <|constrain|>json<|message|>["2+2"]<|call|>',
     ["invalid_json"]),
    ('<|channel|>commentary to=functions.get_weather <|constrain|>json<|message|>{"town": "Lima"}<|call|>',
     ["arguments_mismatch"]),
    ("<|channel|>analysis<|message|>Hmm.<|return|>", ["no_final"]),
    ("<|channel|>final<|message|>analysisThe user wants a sum. Answer: 4<|return|>", ["reasoning_in_final"]),
    ("<|channel|>analysis<|message|>The user asks for the sum of two and two, which is four.<|end|>"
     "<|start|>assistant<|channel|>final<|message|>The user asks for the sum of two and two,\n"
     "which is four. So: **4**.<|return|>", ["reasoning_in_final"]),
    ("<|channel|>final<|message|>Bonjour !<|end|><|return|>", ["missing_stop"]),
], ids=["unparsed", "call-on-analysis", "no-message-token", "doubled-start", "glued-recipient",
        "tool-in-role", "unknown-function", "yaml-call", "json-to-python", "bad-json",
        "not-an-object", "schema", "no-final", "glued-channel-name", "restated-analysis",
        "end-not-return"])
def test_each_check_fires_on_the_turn_that_breaks_it(completion, expected):
    assert codes(completion) == expected


def test_harmony_markup_written_as_text_in_the_final_is_reasoning_leaking():
    ids = (harmony.encode("<|channel|>final<|message|>")
           + plain("<|channel|>analysis<|message|>We need 4.") + [harmony.RETURN])
    found = findings(parse_ids(ids))
    assert [f["code"] for f in found] == ["reasoning_in_final"]
    assert "<|channel|>, <|message|>" in found[0]["message"] and found[0]["index"] == 0


def test_a_turn_out_of_tokens_without_a_final_is_flagged_but_its_missing_stop_is_not():
    assert codes(THINK, status="length") == ["no_final"]
    assert codes(THINK, status="failed", error_code="harmony_parse") == ["no_final", "missing_stop"]


def test_findings_name_the_message_and_say_what_is_wrong():
    found = findings(parse(THINK + '<|channel|>commentary to=functions.get_weather <|constrain|>json'
                           '<|message|>{"city": 7}<|call|>'))
    assert found == [{"code": "arguments_mismatch", "index": 1,
                      "message": "arguments do not match the declared parameters at $.city: "
                                 "7 is not of type 'string'"}]
    assert set(lint.CODES) >= {f["code"] for f in found}


def test_a_message_stored_without_token_ids_is_checked_on_its_fields():
    parsed = parse('<|channel|>commentary to=functions.calculator <|constrain|>json'
                   '<|message|>{"expression": 2}<|call|>')
    message = parsed.stream.messages[0]
    message.token_ids, message.channel = [], "analysis"
    found = lint.lint_turn([message], DECLARED, "awaiting")
    assert [f["code"] for f in found] == ["call_on_analysis", "arguments_mismatch"]


BROKEN = json.loads((Path(__file__).parent / "data" / "broken_completions.json").read_text(encoding="utf-8"))
# What each of them breaks, its tools declared (an open schema: their real ones are unknown)
EXPECTED = {
    "cut_off_call_with_prompt_tail": ["no_final"],  # cut off: the JSON was never finished
    "tool_call_on_analysis": ["call_on_analysis", "bad_content_type"],
    "recipient_in_role": [],
    "recipient_glued_to_channel": ["bad_recipient"],
    "doubled_start": ["malformed_header"],
    "stray_text_between_messages": ["unparsed_text"],
    "empty_channel": ["unparsed_text"],
    "constrain_then_text": ["malformed_header", "invalid_json"],
    "unknown_role_bash": ["bad_recipient", "unknown_tool"],
    "missing_message_token": ["malformed_header", "malformed_header"],
    "text_after_end": ["unparsed_text", "missing_stop"],
    "bare_json_before_return": ["unparsed_text", "no_final"],
    "stray_return_after_end": ["missing_stop"],
    "call_without_call_token_and_newline": ["no_final"],
    "final_with_constrain_no_recipient": [],
}


@pytest.mark.parametrize("case", BROKEN, ids=[c["name"] for c in BROKEN])
def test_real_broken_completions_get_the_findings_they_deserve(case):
    open_schema = {"type": "object"}
    names = ("get_ecs_instructions", "ffgrep", "get_weather", "read_file", "write", "calculator")
    declared = lint.Declared({name: open_schema for name in names})
    assert codes(case["completion"], declared=declared) == EXPECTED[case["name"]]


def test_every_broken_completion_has_an_expectation():
    assert sorted(EXPECTED) == sorted(c["name"] for c in BROKEN)
