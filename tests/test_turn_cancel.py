"""Cancellation is cooperative: the loop stops between tokens, keeps and reports what was
generated, and ends with turn.done status cancelled."""

from scripted_engine import ScriptedEngine, calculator_call, final_answer

from inference import harmony
from inference.turn import run_turn

QUESTION = [harmony.Msg("user", "What is 12*34?")]
SETTINGS = harmony.TurnSettings(builtin_tools=["calculator"])


def cancel_after(calls):
    """A should_cancel that answers True from its `calls`-th question on."""
    asked = []

    def should_cancel():
        asked.append(1)
        return len(asked) >= calls
    return should_cancel


def test_cancel_mid_message_keeps_the_text_so_far():
    frames = []
    answer = final_answer("The answer is four hundred and eight, computed carefully.")
    result = run_turn(ScriptedEngine(answer), QUESTION, SETTINGS, frames.append, turn_id=1,
                      should_cancel=cancel_after(8))

    assert result.status == "cancelled" and result.error is None
    assert frames[-1]["type"] == "turn.done" and frames[-1]["status"] == "cancelled"
    [message] = result.messages
    streamed = "".join(f["text"] for f in frames if f["type"] == "message.delta")
    assert message.text and streamed == message.text
    assert "four hundred and eight, computed carefully".startswith(message.text.split("is ", 1)[-1])
    assert frames[-1]["metrics"]["output_tokens"] == len(message.token_ids)
    assert any(f["type"] == "message.end" for f in frames)  # the open message was closed


def test_cancel_before_start_generates_nothing():
    frames = []
    engine = ScriptedEngine(final_answer("never"))
    result = run_turn(engine, QUESTION, SETTINGS, frames.append, turn_id=1,
                      should_cancel=lambda: True)
    assert result.status == "cancelled" and result.messages == []
    assert engine.prompts == []
    assert [f["type"] for f in frames] == ["turn.started", "turn.done"]
    metrics = frames[-1]["metrics"]
    assert metrics["ttft_ms"] is None and metrics["prefill_ms"] is None and metrics["output_tokens"] == 0


def test_cancel_after_a_tool_call_does_not_run_the_tool():
    frames = []
    state = {"cancel": False}
    call = calculator_call("12*34")
    engine = ScriptedEngine(call, final_answer("408"))
    original = engine.generate

    def generate(*args, **kwargs):  # the user presses stop while the call is generated
        for token in original(*args, **kwargs):
            yield token
        state["cancel"] = True

    engine.generate = generate
    result = run_turn(engine, QUESTION, SETTINGS, frames.append, turn_id=1,
                      should_cancel=lambda: state["cancel"])
    assert result.status == "cancelled"
    assert not [f for f in frames if f["type"] in ("tool.call", "tool.result")]
    assert len(engine.prompts) == 1
