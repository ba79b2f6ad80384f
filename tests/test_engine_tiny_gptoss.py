"""The engine against a tiny GptOss built from a config: KV-cached decoding gives exactly the
tokens of recomputing the whole sequence, and stop ids, seeds, top_p, cancellation and the
token budget behave as documented."""

import json

import pytest
import torch
from tiny_gptoss import tiny_gptoss

from inference.engine import Engine, EngineError, active_parameter_count

PROMPT = [11, 22, 33, 44, 55, 66]  # longer than the sliding window, so the window is exercised


@pytest.fixture(scope="module")
def model():
    return tiny_gptoss(vocab_size=512)


@pytest.fixture(scope="module")
def engine(model):
    return Engine(model, model_name="tiny", device="cpu")


def greedy_by_recomputing(model, prompt, steps):
    ids = list(prompt)
    with torch.no_grad():
        for _ in range(steps):
            logits = model(torch.tensor([ids]), use_cache=False).logits[0, -1]
            ids.append(int(logits.argmax()))
    return ids[len(prompt):]


def test_kv_cached_greedy_equals_full_recompute(model, engine):
    tokens = list(engine.generate(PROMPT, max_new_tokens=12, stop_ids=()))
    assert tokens == greedy_by_recomputing(model, PROMPT, 12)
    assert engine.last_prefill_ms > 0


def test_decoding_feeds_one_token_per_step(model, engine, monkeypatch):
    lengths = []
    forward = model.forward

    def counting(*args, **kwargs):
        lengths.append(kwargs["input_ids"].shape[1])
        return forward(*args, **kwargs)

    monkeypatch.setattr(model, "forward", counting)
    list(engine.generate(PROMPT, max_new_tokens=5, stop_ids=()))
    assert lengths == [len(PROMPT), 1, 1, 1, 1]


def test_stop_id_is_yielded_and_ends_the_stream(model, engine):
    expected = greedy_by_recomputing(model, PROMPT, 8)
    stop = expected[3]
    first = expected.index(stop)
    assert list(engine.generate(PROMPT, max_new_tokens=8, stop_ids=(stop,))) == expected[:first + 1]


def test_max_new_tokens_is_honoured(engine):
    assert len(list(engine.generate(PROMPT, max_new_tokens=3, stop_ids=()))) == 3
    assert list(engine.generate(PROMPT, max_new_tokens=0)) == []


def test_same_seed_same_sample_different_seed_different(engine):
    def sample(seed):
        return list(engine.generate(PROMPT, max_new_tokens=10, temperature=1.0, seed=seed, stop_ids=()))
    assert sample(123) == sample(123)
    assert sample(123) != sample(124)


def test_tiny_top_p_is_greedy(engine):
    greedy = list(engine.generate(PROMPT, max_new_tokens=6, stop_ids=()))
    nucleus = list(engine.generate(PROMPT, max_new_tokens=6, temperature=0.8, top_p=1e-6, seed=1,
                                   stop_ids=()))
    assert nucleus == greedy


def test_cancel_is_polled_between_tokens(engine):
    asked = []

    def should_cancel():
        asked.append(1)
        return len(asked) > 3

    tokens = list(engine.generate(PROMPT, max_new_tokens=50, stop_ids=(), should_cancel=should_cancel))
    assert len(tokens) == 3
    assert list(engine.generate(PROMPT, max_new_tokens=5, should_cancel=lambda: True)) == []


def test_bad_arguments_are_clear_errors(engine):
    with pytest.raises(EngineError, match="empty"):
        engine.generate([], max_new_tokens=1)
    with pytest.raises(EngineError, match="top_p"):
        engine.generate(PROMPT, max_new_tokens=1, top_p=0)
    with pytest.raises(EngineError, match="context"):
        engine.generate([1] * 5000, max_new_tokens=1)


def test_zero_output_rows_give_the_same_tokens_through_the_live_row_head():
    model = tiny_gptoss(vocab_size=512, seed=3)
    with torch.no_grad():
        model.get_input_embeddings().weight[100:] = 0  # tied: the output rows too
    engine = Engine(model, model_name="tiny", device="cpu")
    assert engine._live_rows is not None and len(engine._live_rows) == 100
    tokens = list(engine.generate(PROMPT, max_new_tokens=10, stop_ids=()))
    assert tokens == greedy_by_recomputing(model, PROMPT, 10)


def test_active_parameters_count_top_k_of_the_experts(model):
    cfg = model.config
    per_expert = 64 * 128 + 128 + 64 * 64 + 64
    experts = cfg.num_hidden_layers * cfg.num_local_experts * per_expert
    embedding = 512 * 64
    dense = sum(p.numel() for p in model.parameters()) - experts - embedding
    assert active_parameter_count(model) == dense + 512 * 64 + experts * 2 // 4


def test_load_a_saved_checkpoint_folder(tmp_path, model):
    model.save_pretrained(tmp_path / "tiny-gptoss")
    engine = Engine.load(tmp_path / "tiny-gptoss", device="cpu")
    assert engine.model_name == "tiny-gptoss" and engine.device == "cpu"
    assert len(list(engine.generate(PROMPT, max_new_tokens=4, stop_ids=()))) == 4


def test_gptoss_model_env_names_the_default_folder(tmp_path, model, monkeypatch):
    model.save_pretrained(tmp_path / "from-env")
    monkeypatch.setenv("GPTOSS_MODEL", str(tmp_path / "from-env"))
    assert Engine.load(device="cpu").model_name == "from-env"


def test_missing_or_foreign_folders_are_clear_errors(tmp_path):
    with pytest.raises(EngineError, match="does not exist"):
        Engine.load(tmp_path / "nowhere")
    with pytest.raises(EngineError, match="no config.json"):
        Engine.load(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "llama"}))
    with pytest.raises(EngineError, match="not gpt_oss"):
        Engine.load(tmp_path)
