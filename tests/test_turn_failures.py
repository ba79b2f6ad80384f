"""Malformed model output and engine failures end the turn as failed with a clear error
code, after every generated character was emitted; nothing raises out of run_turn."""

from scripted_engine import ScriptedEngine, final_answer

from inference import events, harmony
from inference.turn import run_turn

QUESTION = [harmony.Msg("user", "hi")]


def test_unplaceable_text_fails_with_harmony_parse_and_keeps_the_text():
    frames = []
    completion = "<|channel|>final<|message|>Hello.<|end|>stray words outside<|return|>"
    result = run_turn(ScriptedEngine(completion), QUESTION, harmony.TurnSettings(), frames.append,
                      turn_id=5)

    assert result.status == "failed" and result.error["code"] == "harmony_parse"
    assert frames[-1]["type"] == "turn.done" and frames[-1]["error"] == result.error
    streamed = "".join(f["text"] for f in frames if f["type"] == "message.delta")
    assert "Hello." in streamed and "stray words outside" in streamed
    assert any(m.channel == "unparsed" for m in result.messages)


class BrokenEngine(ScriptedEngine):
    """Yields a few tokens, then fails as a GPU can (out of memory)."""

    def generate(self, prompt_ids, **kwargs):
        tokens = super().generate(prompt_ids, **kwargs)

        def failing():
            for n, token in enumerate(tokens):
                if n == 5:
                    raise RuntimeError("CUDA error: device-side assert triggered")
                yield token
        return failing()


def test_engine_exception_fails_the_turn_with_engine_error():
    frames = []
    result = run_turn(BrokenEngine(final_answer("Hello there, how are you today?")), QUESTION,
                      harmony.TurnSettings(), frames.append, turn_id=5)

    assert result.status == "failed"
    assert result.error == {"code": "engine_error",
                            "message": "RuntimeError: CUDA error: device-side assert triggered"}
    assert result.messages and result.messages[0].text  # what came before the failure is kept
    assert frames[-1]["type"] == "turn.done"
    assert set(events.METRIC_KEYS) <= set(frames[-1]["metrics"])


def test_bad_settings_fail_with_invalid_request():
    frames = []
    settings = harmony.TurnSettings(builtin_tools=["teleporter"])
    result = run_turn(ScriptedEngine(final_answer("x")), QUESTION, settings, frames.append, turn_id=5)
    assert result.status == "failed" and result.error["code"] == "invalid_request"
    assert "teleporter" in result.error["message"]
    assert frames[-1]["type"] == "turn.done"
