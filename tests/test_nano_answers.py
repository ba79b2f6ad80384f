"""The committed gpt-oss-nano checkpoint, run through the product's turn loop, answers
`What is 12 * 34?` by thinking, calling the calculator and putting 408 in the final channel."""

import time

import pytest

from inference.engine import Engine
from inference.harmony import EFFORTS, Msg, TurnSettings
from inference.nano.checkpoint import DEFAULT_PATH
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


def test_checkpoint_is_small_and_loads_fast():
    size = sum(f.stat().st_size for f in DEFAULT_PATH.iterdir())
    assert size <= 16 * 1024 * 1024
    started = time.perf_counter()
    Engine.load(DEFAULT_PATH, "cpu")
    assert time.perf_counter() - started < 5
