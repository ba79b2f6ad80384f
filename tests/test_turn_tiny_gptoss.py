"""A whole turn on a real (tiny, random) GptOss through the engine: whatever the untrained
model emits, the turn ends with turn.done and measured metrics, every generated character is
streamed, and a seeded sampled turn is reproducible."""

import pytest
from tiny_gptoss import tiny_gptoss

from inference import events, harmony
from inference.engine import Engine
from inference.turn import run_turn

QUESTION = [harmony.Msg("user", "What is 12*34?")]


@pytest.fixture(scope="module")
def engine():
    return Engine(tiny_gptoss(), model_name="tiny", device="cpu")


def turn(engine, **settings):
    frames = []
    result = run_turn(engine, QUESTION, harmony.TurnSettings(builtin_tools=["calculator"], **settings),
                      frames.append, turn_id=9, queue_ms=0.0)
    return result, frames


def test_untrained_model_turn_ends_cleanly_with_measured_metrics(engine):
    result, frames = turn(engine, max_output_tokens=24)

    assert frames[-1]["type"] == "turn.done"
    assert result.status in ("failed", "length", "completed")
    if result.status == "failed":
        assert result.error["code"] == "harmony_parse"
    metrics = frames[-1]["metrics"]
    assert set(events.METRIC_KEYS) <= set(metrics)
    assert metrics["output_tokens"] == 24 or result.status != "length"
    assert metrics["prefill_ms"] > 0 and metrics["ttft_ms"] >= metrics["prefill_ms"]
    assert metrics["decode_tokens_per_s"] > 0
    assert metrics["model"] == "tiny" and metrics["device"] == "cpu"
    assert metrics["est_flops"] == 2 * engine.active_params * (metrics["prompt_tokens"] + metrics["output_tokens"])
    for message in result.messages:
        streamed = "".join(f["text"] for f in frames
                           if f["type"] == "message.delta" and f["index"] == message.index)
        assert streamed == message.text


def test_seeded_sampled_turn_is_reproducible(engine):
    def texts():
        result, _ = turn(engine, max_output_tokens=16, temperature=1.0, seed=42)
        return [m.text for m in result.messages]
    assert texts() == texts()
