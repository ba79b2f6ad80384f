"""The benchmark's scoring (`inference.bench.score`, `contains_number`), which produces the
published figures in bench/results/: a final answer is right when it states the expected number
as a number of its own (not inside another, not negated, with or without thousands separators),
the clock's reading, the expected call, or, out of domain, no call; a turn without a final
answer, or that did not complete, is never right. The published rows re-score as recorded."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from inference import bench
from inference.harmony import FunctionTool, Msg, TurnSettings
from inference.nano.problems import Problem
from inference.turn import TurnResult

RESULTS = Path(__file__).resolve().parent.parent / "bench" / "results"


# ---- contains_number ------------------------------------------------------------------------

@pytest.mark.parametrize("text, number", [
    ("12 * 34 is 408.", "408"),
    ("408", "408"),
    ("The answer is **408**!", "408"),
    ("(408)", "408"),
    ("=408", "408"),
    ("408, then 409", "408"),  # a comma and a space: a list, not a thousands separator
    ("12 - 8 is 4", "4"),
    ("412-4", "4"),  # a minus after a digit is a subtraction, not a sign
    ("47 - 74 is -27.", "-27"),
    ("It is \u221227.", "-27"),  # U+2212 MINUS SIGN
    ("-3044", "-3044"),
    ("5180 / 35 is 148.", "148"),
    ("720 + 9629 is 10349.", "10349"),
    ("720 + 9629 is 10,349.", "10349"),  # thousands separators
    ("That makes 6,956,046.", "6956046"),
    ("It is -3,044.", "-3044"),
    ("0.1 + 0.2 is 0.3.", "0.3"),
    ("5 / 2 = 2.5.", "2.5"),
    ("It is -2.5", "-2.5"),
    ("0 times 299 is 0.", "0"),
])
def test_a_number_stated_on_its_own_is_found(text, number):
    assert bench.contains_number(text, number)


@pytest.mark.parametrize("text, number", [
    ("The answer is 1408.", "408"),  # inside a longer number, before or after
    ("The answer is 4080.", "408"),
    ("The answer is 408.5.", "408"),  # the whole part of a decimal
    ("The answer is 3.408.", "408"),  # the decimal part of another number
    ("The answer is 12.5.", "2.5"),
    ("The answer is 2.55.", "2.5"),
    ("The answer is 2.5.", "2"),
    ("74 - 47 is -27.", "27"),  # a sign error is wrong
    ("74 - 47 is \u221227.", "27"),
    ("47 - 74 is 27.", "-27"),
    ("5-27", "-27"),  # a subtraction, not the number -27
    ("The answer is 1,408.", "408"),  # a group of a number with thousands separators
    ("The answer is 408,000.", "408"),
    ("The answer is 10,349,000.", "10349"),
    ("The answer is 1,0349.", "10349"),  # separators in the wrong places are another number
    ("The answer is 10348.", "10349"),
    ("I cannot answer that.", "0"),
    ("", "408"),
])
def test_a_number_inside_another_negated_or_absent_is_not_found(text, number):
    assert not bench.contains_number(text, number)


# ---- score ----------------------------------------------------------------------------------

METRICS = {"tokens_by_channel": {"analysis": 3, "commentary": 5, "final": 4}, "total_ms": 12.5,
           "decode_ms": 10.0, "decode_tokens": 12, "output_tokens": 12}
WEATHER = FunctionTool("get_weather", "Weather in a city.",
                       {"type": "object", "properties": {"city": {"type": "string"}}})


def problem(kind, expected, tools=(), builtin_tools=("calculator", "clock")) -> Problem:
    return Problem(kind=kind, settings=TurnSettings(tools=list(tools), builtin_tools=list(builtin_tools)),
                   prompt=[Msg("user", "?")], answer=[], expected=expected)


def final(text) -> Msg:
    return Msg("assistant", text, channel="final")


def analysis(text) -> Msg:
    return Msg("assistant", text, channel="analysis")


def tool_call(name, arguments) -> dict:
    return {"type": "tool.call", "name": name, "arguments": arguments}


def tool_result(output) -> dict:
    return {"type": "tool.result", "output": output}


def scored(prob, produced, frames=(), status="completed", error=None, call=None) -> dict:
    result = TurnResult(status=status, messages=list(produced), metrics=METRICS, error=error)
    return bench.score(prob, "high", result, list(produced), list(frames), call)


ARITHMETIC = problem("arithmetic", {"answer": "408"})
CALC = [tool_call("calculator", {"expression": "12 * 34"}), tool_result("408")]


def test_an_arithmetic_answer_is_right_when_its_last_final_states_the_number():
    assert scored(ARITHMETIC, [analysis("Multiply."), final("12 * 34 is 408.")], CALC)["correct"]
    assert not scored(ARITHMETIC, [final("12 * 34 is 1408.")], CALC)["correct"]
    assert not scored(ARITHMETIC, [final("12 * 34 is -408.")], CALC)["correct"]
    # the last final answer is the one scored
    assert not scored(ARITHMETIC, [final("408"), final("Sorry: 409.")], CALC)["correct"]
    assert scored(ARITHMETIC, [final("409?"), final("No: 408.")], CALC)["correct"]


def test_the_number_in_the_analysis_or_the_tool_output_does_not_count():
    row = scored(ARITHMETIC, [analysis("It is 408."), final("It is 409.")], CALC)
    assert not row["correct"] and row["final"] == "It is 409."


def test_a_turn_without_a_final_answer_is_never_right():
    row = scored(ARITHMETIC, [analysis("12 * 34 is 408.")], CALC)
    assert not row["correct"] and row["final"] == ""
    clock = problem("clock", {"answer": "22:14"})
    assert not scored(clock, [analysis("22:14")],
                      [tool_call("clock", {}), tool_result("2026-12-06 22:14:05 Sunday, UTC (UTC+00:00)")]
                      )["correct"]
    assert not scored(problem("out_of_domain", {}), [analysis("I cannot.")])["correct"]


@pytest.mark.parametrize("status", ["length", "cancelled", "failed"])
def test_a_turn_that_did_not_complete_is_never_right(status):
    assert not scored(ARITHMETIC, [final("408")], CALC, status=status)["correct"]
    assert not scored(problem("out_of_domain", {}), [final("I cannot.")], status=status)["correct"]


def test_a_follow_up_is_scored_on_its_number_with_its_sign():
    follow_up = problem("follow_up", {"answer": "-1173"})
    assert scored(follow_up, [final("-1180 + 7 is -1173.")])["correct"]
    assert not scored(follow_up, [final("1180 + 7 is 1173.")])["correct"]
    assert not scored(problem("follow_up", {"answer": "1173"}), [final("-1180 + 7 is -1173.")])["correct"]


CLOCK_READING = "2026-12-06 22:14:05 Sunday, Europe/Paris (UTC+01:00)"


def test_a_clock_answer_is_right_when_it_says_the_time_or_date_the_clock_tool_read():
    # the expected answer only says which (a time, or a date): the clock runs, so the reading
    # the tool returned during the turn is what the final answer must say
    time_problem, date_problem = problem("clock", {"answer": "01:02"}), problem("clock", {"answer": "2023-12-22"})
    read = [tool_call("clock", {"timezone": "Europe/Paris"}), tool_result(CLOCK_READING)]
    assert scored(time_problem, [final("It is 22:14 on Sunday.")], read)["correct"]
    assert not scored(time_problem, [final("It is 01:02.")], read)["correct"]
    assert not scored(time_problem, [final("It is 22:15.")], read)["correct"]
    assert scored(date_problem, [final("Today is 2026-12-06.")], read)["correct"]
    assert not scored(date_problem, [final("It is 22:14.")], read)["correct"]


def test_a_clock_answer_without_a_reading_is_wrong_and_a_failed_reading_is_skipped():
    time_problem = problem("clock", {"answer": "22:14"})
    assert not scored(time_problem, [final("It is 22:14.")])["correct"], "no clock call: a guess"
    failed = [tool_call("clock", {"timezone": "Mars"}), tool_result("error: unknown time zone 'Mars'")]
    assert not scored(time_problem, [final("It is 22:14.")], failed)["correct"]
    then_read = failed + [tool_call("clock", {}), tool_result("2026-12-06 22:14:05 Sunday, UTC (UTC+00:00)")]
    assert scored(time_problem, [final("It is 22:14.")], then_read)["correct"]


EXPECTED_CALL = {"name": "get_weather", "arguments": {"city": "Oslo"}}


def function_problem(city="Oslo"):
    return problem("function", {"call": {"name": "get_weather", "arguments": {"city": city}}},
                   tools=[WEATHER], builtin_tools=())


@pytest.mark.parametrize("city", ["Oslo", "XC8732"])
def test_a_function_problem_is_right_when_the_call_is_the_expected_one_and_the_turn_completes(city):
    prob = function_problem(city)
    call = {"name": "get_weather", "arguments": {"city": city}}
    frames = [tool_call("get_weather", {"city": city})]
    row = scored(prob, [final("Sunny.")], frames, call=call)
    assert row["correct"] and row["call_correct"] is True
    assert row["letter_code"] is (city == "XC8732")
    assert row["tool_calls"] == row["valid_tool_calls"] == 1


def test_a_function_problem_with_a_wrong_call_or_none_is_wrong():
    prob = function_problem()
    wrong = {"name": "get_weather", "arguments": {"city": "Bergen"}}
    row = scored(prob, [final("Sunny.")], [tool_call("get_weather", {"city": "Bergen"})], call=wrong)
    assert not row["correct"] and row["call_correct"] is False
    extra = {"name": "get_weather", "arguments": {"city": "Oslo", "days": 2}}
    assert not scored(prob, [final("Sunny.")], call=extra)["correct"]
    row = scored(prob, [final("It is sunny in Oslo.")], call=None)
    assert not row["correct"] and row["call_correct"] is False
    # the right call, but the turn never finished its answer
    assert not scored(prob, [], call=EXPECTED_CALL)["correct"]
    assert not scored(prob, [final("Sun")], call=EXPECTED_CALL, status="length")["correct"]


def test_out_of_domain_is_right_only_when_answered_without_a_tool_call():
    ood = problem("out_of_domain", {})
    assert scored(ood, [final("I cannot answer that reliably.")])["correct"]
    assert not scored(ood, [final("I cannot.")], [tool_call("clock", {}), tool_result(CLOCK_READING)])["correct"]


def test_tool_call_validity_counts_object_arguments_to_declared_tools():
    prob = function_problem()
    frames = [tool_call("get_weather", {"city": "Oslo"}),   # valid
              tool_call("get_weather", "Oslo"),             # arguments not an object
              tool_call("get_weather", None),
              tool_call("calculator", {"expression": "1"}),  # not declared for this problem
              tool_call("lookup", {})]
    row = scored(prob, [final("ok")], frames, call=EXPECTED_CALL)
    assert (row["tool_calls"], row["valid_tool_calls"]) == (5, 1)
    assert scored(ARITHMETIC, [final("408")], CALC)["valid_tool_calls"] == 1, "built-in tools are declared"


def test_a_harmony_parse_error_counts_as_unparsed_and_other_errors_do_not():
    parse = {"code": "harmony_parse", "message": "bad header"}
    assert scored(ARITHMETIC, [final("408")], CALC, status="failed", error=parse)["parsed"] is False
    other = {"code": "internal_error", "message": "boom"}
    assert scored(ARITHMETIC, [final("408")], CALC, status="failed", error=other)["parsed"] is True
    assert scored(ARITHMETIC, [final("408")], CALC)["parsed"] is True


def test_a_row_keeps_the_metrics_and_at_most_200_characters_of_the_final_answer():
    row = scored(ARITHMETIC, [final("408 " + "x" * 300)], CALC)
    assert row["final"] == ("408 " + "x" * 300)[:200]
    assert (row["kind"], row["effort"], row["status"]) == ("arithmetic", "high", "completed")
    assert row["call_correct"] is None and row["letter_code"] is None
    assert row["tokens_by_channel"] == METRICS["tokens_by_channel"]
    assert (row["total_ms"], row["decode_ms"], row["decode_tokens"], row["output_tokens"]) == (12.5, 10.0, 12, 12)


# ---- the published figures ------------------------------------------------------------------

@pytest.mark.parametrize("name", ["effort.json", "effort-after-an-exchange.json"])
def test_the_published_arithmetic_and_follow_up_rows_rescore_as_recorded(name):
    """Each recorded final answer, scored again against its problem's expected number, gives the
    recorded verdict: a change to the scoring that would change the published figures fails."""
    report = json.loads((RESULTS / name).read_text())
    problems = bench.held_out_problems(report["n"], report["seed"], report["after_an_exchange"])
    checked = 0
    for effort, rows in report["rows"].items():
        assert len(rows) == len(problems)
        for prob, row in zip(problems, rows):
            assert row["kind"] == prob.kind, "the problems are the ones the report was run on"
            if prob.kind in ("arithmetic", "follow_up"):
                again = row["status"] == "completed" and bench.contains_number(row["final"], prob.expected["answer"])
                assert again == row["correct"], (effort, prob.expected["answer"], row["final"])
                checked += 1
    assert checked == 300
    assert report["summary"]["high"]["accuracy_by_kind"]["arithmetic"] == bench.mean(
        r["correct"] for r in report["rows"]["high"] if r["kind"] == "arithmetic")
