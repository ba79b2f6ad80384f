"""A call to a builder's function the server cannot run pauses the turn with tool.awaiting;
run_turn called again with the client's output resumes it, metrics carried over."""

from scripted_engine import ScriptedEngine, final_answer

from inference import events, harmony
from inference.turn import run_turn, tool_message

WEATHER = harmony.FunctionTool(
    "get_weather", "Current weather in a city.",
    {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]})
SETTINGS = harmony.TurnSettings(effort="medium", tools=[WEATHER], builtin_tools=["calculator"])
QUESTION = [harmony.Msg("user", "Weather in Paris?")]
CALL = ("<|channel|>analysis<|message|>Ask get_weather.<|end|><|start|>assistant"
        "<|channel|>commentary to=functions.get_weather <|constrain|>json"
        '<|message|>{"city": "Paris"}<|call|>')


def pause():
    frames = []
    engine = ScriptedEngine(CALL)
    result = run_turn(engine, QUESTION, SETTINGS, frames.append, turn_id=3, queue_ms=1.0)
    return result, frames


def test_builder_function_call_pauses_without_turn_done():
    result, frames = pause()

    assert result.status == "awaiting"
    assert [f["type"] for f in frames if not f["type"].startswith("message.")] == [
        "turn.started", "tool.call", "tool.awaiting"]
    assert frames[-1] == {"type": "tool.awaiting", "turn_id": 3, "call_id": "call_3_1",
                          "name": "get_weather", "arguments": {"city": "Paris"}}
    assert (result.pending_call.call_id, result.pending_call.name, result.pending_call.arguments) == (
        "call_3_1", "get_weather", {"city": "Paris"})
    assert set(events.METRIC_KEYS) <= set(result.metrics)
    assert result.metrics["tool_calls"] == 1 and result.metrics["tool_ms"] is None


def test_resume_with_the_client_output_completes_the_turn():
    paused, _ = pause()
    frames = []
    shown = tool_message(frames.append, 3, paused.messages[-1].index + 1, "get_weather", "18 °C, sunny")
    history = QUESTION + [m.to_msg() for m in paused.messages] + [shown.to_msg()]
    engine = ScriptedEngine(final_answer("It is 18 °C and sunny in Paris."))

    result = run_turn(engine, history, SETTINGS, frames.append, turn_id=3, queue_ms=4.0,
                      first_index=shown.index + 1, carried_metrics=paused.metrics)

    assert result.status == "completed"
    assert frames[0]["type"] == "message.start" and frames[0]["author"] == "functions.get_weather"
    assert [m.index for m in result.messages] == [3]
    assert "<|start|>functions.get_weather to=assistant<|channel|>commentary<|message|>18 °C, sunny" \
        in harmony.decode(engine.prompts[0])
    metrics = frames[-1]["metrics"]
    assert frames[-1]["type"] == "turn.done"
    assert metrics["queue_ms"] == 5.0
    assert metrics["tool_calls"] == 1
    assert metrics["output_tokens"] == paused.metrics["output_tokens"] + len(result.messages[0].token_ids)
    assert metrics["ttft_ms"] == paused.metrics["ttft_ms"]  # the first token came before the pause
    assert metrics["time_to_final_ms"] >= paused.metrics["total_ms"]
    assert metrics["tokens_by_channel"]["final"] == len(result.messages[0].token_ids)
    assert metrics["tokens_by_channel"]["commentary"] == paused.metrics["tokens_by_channel"]["commentary"]


def test_builder_call_with_invalid_json_is_answered_by_the_server():
    bad = ("<|channel|>commentary to=functions.get_weather <|constrain|>json"
           "<|message|>{city: Paris}<|call|>")
    frames = []
    result = run_turn(ScriptedEngine(bad, final_answer("Sorry.")), QUESTION, SETTINGS, frames.append,
                      turn_id=3)
    assert result.status == "completed"
    assert not [f for f in frames if f["type"] == "tool.awaiting"]
    assert [f for f in frames if f["type"] == "tool.result"][0]["output"].startswith("error: the arguments")
