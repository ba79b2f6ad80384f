"""The turn loop runs built-in tools the model calls, feeds their output back as a tool
message, and answers tool mistakes (unknown tool, bad JSON) with error text, never a crash."""

from scripted_engine import ScriptedEngine, calculator_call, final_answer

from inference import events, harmony
from inference.turn import run_turn

QUESTION = [harmony.Msg("user", "What is 12*34?")]


def run(engine, settings):
    frames = []
    result = run_turn(engine, QUESTION, settings, frames.append, turn_id=7, queue_ms=2.5)
    return result, frames


def of_type(frames, kind):
    return [f for f in frames if f["type"] == kind]


def test_calculator_call_is_run_and_its_result_read_by_the_model():
    engine = ScriptedEngine(calculator_call("12*34"), final_answer("12 * 34 = 408."))
    result, frames = run(engine, harmony.TurnSettings(effort="high", builtin_tools=["calculator"]))

    assert result.status == "completed" and result.error is None
    [call] = of_type(frames, "tool.call")
    assert call == {"type": "tool.call", "turn_id": 7, "call_id": "call_7_1", "index": 1,
                    "name": "calculator", "arguments": {"expression": "12*34"}}
    [tool_result] = of_type(frames, "tool.result")
    assert tool_result["output"] == "408" and tool_result["call_id"] == "call_7_1"
    assert tool_result["ms"] >= 0
    # the tool's output is a harmony message of its own, at the next index
    starts = of_type(frames, "message.start")
    assert [(s["index"], s["role"], s["channel"]) for s in starts] == [
        (0, "assistant", "analysis"), (1, "assistant", "commentary"),
        (2, "tool", "commentary"), (3, "assistant", "final")]
    assert starts[2]["author"] == "functions.calculator" and starts[2]["recipient"] == "assistant"
    assert [m.text for m in result.messages] == [
        "Use the calculator.", '{"expression": "12*34"}', "408", "12 * 34 = 408."]
    # the second generation saw the call and its result
    second_prompt = harmony.decode(engine.prompts[1])
    assert second_prompt.endswith(
        "<|start|>functions.calculator to=assistant<|channel|>commentary<|message|>408<|end|>"
        "<|start|>assistant")


def test_turn_done_is_last_and_carries_every_metric():
    engine = ScriptedEngine(calculator_call("2+2"), final_answer("4"))
    result, frames = run(engine, harmony.TurnSettings(effort="low", builtin_tools=["calculator"]))

    assert frames[0]["type"] == "turn.started" and frames[-1]["type"] == "turn.done"
    metrics = frames[-1]["metrics"]
    assert set(events.METRIC_KEYS) <= set(metrics)
    assert metrics["queue_ms"] == 2.5 and metrics["effort"] == "low"
    assert metrics["tool_calls"] == 1 and metrics["tool_ms"] is not None
    assert metrics["prompt_tokens"] == sum(len(p) for p in engine.prompts)
    generated = sum(len(m.token_ids) for m in result.messages if m.role == "assistant")
    assert metrics["output_tokens"] == generated
    assert sum(metrics["tokens_by_channel"].values()) == generated
    assert metrics["est_flops"] == 2 * engine.active_params * (metrics["prompt_tokens"] + generated)
    assert 0 < metrics["ttft_ms"] <= metrics["time_to_final_ms"] <= metrics["total_ms"]


def test_unknown_tool_gets_error_text_and_the_turn_goes_on():
    call = ("<|channel|>commentary to=functions.weather <|constrain|>json"
            '<|message|>{"city": "Paris"}<|call|>')
    engine = ScriptedEngine(call, final_answer("I have no weather tool."))
    result, frames = run(engine, harmony.TurnSettings(builtin_tools=["calculator"]))

    assert result.status == "completed"
    [tool_result] = of_type(frames, "tool.result")
    assert tool_result["output"].startswith("error: there is no tool 'functions.weather'")
    assert "calculator" in tool_result["output"]


def test_invalid_json_arguments_get_error_text():
    call = ('<|channel|>commentary to=functions.calculator <|constrain|>json'
            '<|message|>{"expression": 12*34<|call|>')
    engine = ScriptedEngine(call, final_answer("Sorry."))
    result, frames = run(engine, harmony.TurnSettings(builtin_tools=["calculator"]))

    assert result.status == "completed"
    [call_frame] = of_type(frames, "tool.call")
    assert call_frame["arguments"] == '{"expression": 12*34'  # the raw text, shown as written
    [tool_result] = of_type(frames, "tool.result")
    assert tool_result["output"].startswith("error: the arguments are not valid JSON")


def test_calculator_errors_reach_the_model_as_text():
    engine = ScriptedEngine(calculator_call("1/0"), final_answer("Division by zero."))
    result, frames = run(engine, harmony.TurnSettings(builtin_tools=["calculator"]))

    assert result.status == "completed"
    assert of_type(frames, "tool.result")[0]["output"] == "error: division by zero"
    assert "<|message|>error: division by zero<|end|>" in harmony.decode(engine.prompts[1])


def test_disabled_builtin_tool_is_not_run():
    engine = ScriptedEngine(calculator_call("2+2"), final_answer("?"))
    result, frames = run(engine, harmony.TurnSettings(builtin_tools=["clock"]))
    assert of_type(frames, "tool.result")[0]["output"].startswith("error: there is no tool")


def test_several_tool_rounds_in_one_turn():
    engine = ScriptedEngine(calculator_call("12*34"), calculator_call("408*3"), final_answer("1224"))
    result, frames = run(engine, harmony.TurnSettings(builtin_tools=["calculator"]))

    assert result.status == "completed"
    assert [f["output"] for f in of_type(frames, "tool.result")] == ["408", "1224"]
    assert [m.index for m in result.messages] == list(range(len(result.messages)))
    assert frames[-1]["metrics"]["tool_calls"] == 2
