"""The committed gpt-oss-nano checkpoint, run through the product's turn loop, answers
`What is 12 * 34?` by thinking, calling the calculator and putting 408 in the final channel; and
`python -m inference.nano probe` splits its next-token error by kind of target token (templated
text nearly always right, the capital letters of codes apart)."""

import pytest

from inference.engine import Engine
from inference.harmony import EFFORTS, Msg, TurnSettings
from inference.nano.__main__ import main
from inference.nano.checkpoint import DEFAULT_PATH
from inference.nano.probe import code_pairs, probe
from inference.turn import run_turn


@pytest.fixture(scope="module")
def engine():
    return Engine.load(DEFAULT_PATH, "cpu")


@pytest.mark.parametrize("effort", EFFORTS)
def test_twelve_times_thirty_four_uses_the_calculator_and_answers_408(engine, effort):
    frames = []
    settings = TurnSettings(effort=effort, builtin_tools=["calculator", "clock"])
    result = run_turn(engine, [Msg("user", "What is 12 * 34?")], settings, frames.append, turn_id="t")
    assert result.status == "completed", result.error
    channels = [m.channel for m in result.messages if m.role == "assistant"]
    assert channels[0] == "analysis" and channels[-1] == "final"
    calls = [(f["name"], f["arguments"]) for f in frames if f["type"] == "tool.call"]
    # high effort may check and call a second time; every call must be the right one
    assert calls and set(map(str, calls)) == {str(("calculator", {"expression": "12 * 34"}))}
    assert {f["output"] for f in frames if f["type"] == "tool.result"} == {"408"}
    assert "408" in result.messages[-1].text


def test_the_kinds_partition_the_trained_tokens_and_template_text_is_learnt():
    result = probe(conversations=48)
    kinds = ("capital letters", "copied digits and effort", "other")
    assert sum(result[k]["tokens"] for k in kinds) == result["all"]["tokens"] > 1000
    assert result["capital letters"]["tokens"] > 0
    assert result["other"]["error"] < 0.05
    assert all(0.0 <= row["error"] <= 1.0 for row in result.values())


def test_the_command_prints_a_row_per_kind(capsys):
    assert main(["probe", "--conversations", "8"]) == 0
    printed = capsys.readouterr().out
    for kind in ("all", "capital letters", "copied digits and effort", "other"):
        assert kind in printed
    assert "letter pairs of codes written after a quote" in printed


def test_code_pairs_are_read_at_every_bare_pair_of_the_calls():
    result = code_pairs(problems=8)
    assert result["pairs"] >= 8  # every problem's call holds at least one code
    assert 0 <= result["right"] <= result["pairs"] and result["median_rank"] >= 0
