"""A checkpoint trained on a corpus rendered earlier (`data`, then `train --corpus`) records how
that corpus was drawn, not the recipe's defaults for drawing one."""

from inference.nano.__main__ import main
from inference.nano.checkpoint import read_meta
from inference.nano.corpus import Corpus

TINY = ["--steps", "2", "--batch", "2", "--warmup", "1", "--hidden", "32", "--heads", "2", "--kv-heads", "1",
        "--head-dim", "16", "--experts", "2", "--experts-per-token", "1", "--expert-hidden", "32"]


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
