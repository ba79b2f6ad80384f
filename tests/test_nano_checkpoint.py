"""The compact checkpoint: it expands to a full-vocabulary GptOssForCausalLM with the same
distribution as training's restricted softmax, records how it was made (the command, the corpus
as drawn, the run it started from), and the shipped one is small and loads fast."""

import time

import torch

from inference.engine import Engine
from inference.nano import checkpoint
from inference.nano.__main__ import main
from inference.nano.checkpoint import DEFAULT_PATH, read_meta
from inference.nano.corpus import Corpus, examples
from inference.nano.loss import restricted_logits
from inference.nano.train import train
from tests.tiny_gptoss import tiny_recipe

# `python -m inference.nano train` flags for a model of tiny_recipe's size, two steps
TINY = ["--steps", "2", "--batch", "2", "--warmup", "1", "--hidden", "32", "--heads", "2", "--kv-heads", "1",
        "--head-dim", "16", "--experts", "2", "--experts-per-token", "1", "--expert-hidden", "32"]


def test_compact_checkpoint_expands_to_the_same_distribution(tmp_path):
    corpus = Corpus(examples(seed=12, count=4))
    recipe = tiny_recipe(steps=2)
    model, _ = train(tmp_path / "ckpt", recipe, corpus=corpus, log=lambda line: None)
    full = checkpoint.load_model(tmp_path / "ckpt")
    assert full.config.vocab_size == checkpoint.FULL_VOCAB
    used = torch.tensor(corpus.used_ids)
    inputs = torch.tensor([corpus.used_ids[i] for i in corpus.ids[0][:40]])[None]
    with torch.no_grad():
        full_probs = torch.softmax(full(input_ids=inputs).logits[0, -1].double(), -1)
        # the compact model in bf16, as stored: the restricted softmax must match the full one
        model = model.to(torch.bfloat16).float()
        hidden = model.model(input_ids=torch.tensor(corpus.ids[0][:40], dtype=torch.long)[None]).last_hidden_state
        compact_probs = torch.softmax(restricted_logits(model, hidden[0, -1]).double(), -1)
    assert torch.allclose(full_probs[used], compact_probs[:-1], atol=1e-4)
    assert abs(full_probs.sum() - 1) < 1e-4
    others = full_probs.sum() - full_probs[used].sum()
    assert abs(others - compact_probs[-1]) < 1e-4


def test_checkpoint_is_small_and_loads_fast():
    size = sum(f.stat().st_size for f in DEFAULT_PATH.iterdir())
    assert size <= 16 * 1024 * 1024
    started = time.perf_counter()
    Engine.load(DEFAULT_PATH, "cpu")
    assert time.perf_counter() - started < 5


def test_corpus_file_keeps_its_seed_and_mix(tmp_path):
    main(["data", "--out", str(tmp_path / "c.npz"), "--seed", "3", "--examples", "6", "--history-rate", "0.5"])
    drawn = Corpus.load(tmp_path / "c.npz").drawn
    assert drawn["seed"] == 3 and drawn["examples"] == 6 and drawn["history_rate"] == 0.5


def test_checkpoint_records_the_corpus_it_trained_on(tmp_path):
    main(["data", "--out", str(tmp_path / "c.npz"), "--seed", "3", "--examples", "6", "--history-rate", "0.5"])
    main(["train", "--out", str(tmp_path / "m"), "--corpus", str(tmp_path / "c.npz"), "--seed", "9", *TINY])
    info = read_meta(tmp_path / "m")["info"]
    assert info["corpus"]["history_rate"] == 0.5 and info["corpus"]["seed"] == 3
    assert "history_rate" not in info["recipe"] and info["recipe"]["seed"] == 9


def test_fine_tune_without_a_corpus_file_records_the_one_it_drew(tmp_path):
    # the fine-tune draws the first 4 of the same 6 conversations: its tokens are the model's
    drawing = ["--seed", "3", "--history-rate", "0.8"]
    main(["data", "--out", str(tmp_path / "c.npz"), "--examples", "6", *drawing])
    main(["train", "--out", str(tmp_path / "m"), "--corpus", str(tmp_path / "c.npz"), *TINY])
    main(["train", "--out", str(tmp_path / "f"), "--init", str(tmp_path / "m"), "--examples", "4", *drawing, *TINY])
    info = read_meta(tmp_path / "f")["info"]
    assert info["corpus"] == {**info["corpus"], "seed": 3, "examples": 4, "history_rate": 0.8}
    assert info["started_from"]["corpus"]["examples"] == 6


def test_a_fine_tune_records_its_command_and_the_run_it_started_from(tmp_path):
    main(["data", "--out", str(tmp_path / "c.npz"), "--seed", "3", "--examples", "6"])
    main(["train", "--out", str(tmp_path / "a"), "--corpus", str(tmp_path / "c.npz"), *TINY])
    main(["train", "--out", str(tmp_path / "b"), "--init", str(tmp_path / "a"), "--corpus",
          str(tmp_path / "c.npz"), "--lr", "1e-3", *TINY])
    first, second = read_meta(tmp_path / "a")["info"], read_meta(tmp_path / "b")["info"]
    assert second["command"].startswith("python -m inference.nano train --out ")
    assert "--lr 1e-3" in second["command"]
    assert second["started_from"] == first and "started_from" not in first


def test_a_fine_tune_on_a_broader_corpus_gives_its_new_tokens_rows_and_keeps_the_old_ones(tmp_path):
    main(["data", "--out", str(tmp_path / "c.npz"), "--seed", "3", "--examples", "4"])
    main(["train", "--out", str(tmp_path / "a"), "--corpus", str(tmp_path / "c.npz"), *TINY, "--lr", "0"])
    main(["train", "--out", str(tmp_path / "b"), "--init", str(tmp_path / "a"), "--examples", "40",
          "--chat-weight", "5", "--everyday-rate", "1", *TINY, "--lr", "0"])
    old, new = checkpoint.load_compact(tmp_path / "a"), checkpoint.load_compact(tmp_path / "b")
    assert set(old[1]) < set(new[1])
    rows = {t: r for t, r in zip(new[1], new[0].model.embed_tokens.weight)}
    for token, row in zip(old[1], old[0].model.embed_tokens.weight):
        assert torch.equal(rows[token], row)
    fresh = torch.stack([rows[t] for t in set(new[1]) - set(old[1])])
    assert fresh.abs().sum(1).min() > 0 and fresh.std(0).mean() > 0
