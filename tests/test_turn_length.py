"""max_output_tokens bounds the whole turn (all generations together) and the number of
tool rounds is bounded; either ends the turn with status length, keeping the text."""

from scripted_engine import ScriptedEngine, calculator_call, final_answer

from inference import harmony
from inference.turn import MAX_TOOL_ROUNDS, run_turn

QUESTION = [harmony.Msg("user", "What is 12*34?")]


def test_running_out_of_tokens_mid_answer_ends_with_length():
    frames = []
    settings = harmony.TurnSettings(max_output_tokens=10)
    result = run_turn(ScriptedEngine(final_answer("one two three four five six seven eight nine ten")),
                      QUESTION, settings, frames.append, turn_id=2)

    assert result.status == "length" and result.error is None
    assert frames[-1]["status"] == "length"
    assert frames[-1]["metrics"]["output_tokens"] == 10
    assert result.messages[0].channel == "final" and result.messages[0].text.startswith("one two")


def test_budget_is_shared_by_every_generation_of_the_turn():
    call = calculator_call("12*34")
    call_tokens = len(harmony.encode(call))
    settings = harmony.TurnSettings(builtin_tools=["calculator"], max_output_tokens=call_tokens + 3)
    frames = []
    engine = ScriptedEngine(call, final_answer("The product is 408."))
    result = run_turn(engine, QUESTION, settings, frames.append, turn_id=2)

    assert result.status == "length"
    assert frames[-1]["metrics"]["output_tokens"] == call_tokens + 3
    assert [f["output"] for f in frames if f["type"] == "tool.result"] == ["408"]


def test_exhausted_budget_after_a_tool_round_ends_before_generating_again():
    call = calculator_call("12*34")
    settings = harmony.TurnSettings(builtin_tools=["calculator"],
                                    max_output_tokens=len(harmony.encode(call)))
    engine = ScriptedEngine(call, final_answer("408"))
    result = run_turn(engine, QUESTION, settings, lambda f: None, turn_id=2)
    assert result.status == "length" and len(engine.prompts) == 1


def test_tool_rounds_are_bounded():
    calls = [calculator_call(f"{n}+1") for n in range(MAX_TOOL_ROUNDS + 1)]
    frames = []
    settings = harmony.TurnSettings(builtin_tools=["calculator"], max_output_tokens=10_000)
    result = run_turn(ScriptedEngine(*calls), QUESTION, settings, frames.append, turn_id=2)

    assert result.status == "length"
    assert result.error["code"] == "max_tool_rounds"
    assert len([f for f in frames if f["type"] == "tool.result"]) == MAX_TOOL_ROUNDS
    assert frames[-1]["metrics"]["tool_calls"] == MAX_TOOL_ROUNDS
