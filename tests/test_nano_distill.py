"""`distill_weight` keeps a fine-tune near the model it started from (a KL to a frozen copy of
it, outside letter-code targets; with `distill_where_right` only where that copy's first choice
is the target), and is refused where there is no starting model."""

import copy

import pytest
import torch

from inference.nano.data import Generator, Mix, render
from inference.nano.train import Corpus, Distiller, Recipe, kl_divergence, logits_at, train
from tests.tiny_gptoss import tiny_recipe


def corpus() -> Corpus:
    gen = Generator(seed=7, mix=Mix(code_rate=0.5))
    return Corpus([render(gen.problem(kind)) for kind in ("function", "arithmetic") * 6])


def distill_recipe(**changes) -> Recipe:
    return tiny_recipe(**{"steps": 12, "lr": 1e-2, **changes})


def drift(start, tuned, data: Corpus) -> float:
    """Mean KL from the starting model's next-token distribution to the tuned one's."""
    inputs, _, mask = data.batch(list(range(len(data.ids))), "cpu")
    with torch.no_grad():
        return kl_divergence(logits_at(start, inputs, mask), logits_at(tuned, inputs, mask)).item()


def test_a_distilled_fine_tune_drifts_less_from_its_start(tmp_path):
    data = corpus()
    start, _ = train(tmp_path / "start", distill_recipe(), corpus=data, log=lambda line: None)
    drifts = {}
    for weight in (0.0, 20.0):
        tuned, _ = train(tmp_path / f"tuned{weight}", distill_recipe(seed=3, steps=40, distill_weight=weight),
                         corpus=data, log=lambda line: None, model=copy.deepcopy(start))
        drifts[weight] = drift(start, tuned, data)
    assert drifts[20.0] < 0.5 * drifts[0.0]


def test_distilling_where_right_leaves_out_the_positions_the_start_got_wrong(tmp_path):
    data = corpus()
    start, _ = train(tmp_path / "start", distill_recipe(steps=30), corpus=data, log=lambda line: None)
    student = copy.deepcopy(start)
    with torch.no_grad():
        for p in student.parameters():
            p.add_(0.01 * torch.randn_like(p))
    inputs, targets, mask = data.batch([0, 1, 2, 3], "cpu")
    taught, logits = logits_at(start, inputs, mask), logits_at(student, inputs, mask)
    right = taught[:, :-1].argmax(-1) == targets[mask]
    assert 0 < int(right.sum()) < len(right)
    everywhere, where_right = Distiller(start, [], 1.0), Distiller(start, [], 1.0, where_right=True)
    batches = [(inputs, targets, mask)]
    assert torch.allclose(everywhere.loss(logits, targets[mask], batches), kl_divergence(taught, logits))
    assert torch.allclose(where_right.loss(logits, targets[mask], batches),
                          kl_divergence(taught[right], logits[right]))


def test_distillation_needs_a_starting_model(tmp_path):
    with pytest.raises(ValueError, match="starting model"):
        train(tmp_path / "x", distill_recipe(distill_weight=1.0), corpus=corpus(), log=lambda line: None)
    with pytest.raises(ValueError, match="distill_weight too"):
        train(tmp_path / "y", distill_recipe(distill_where_right=True), corpus=corpus(), log=lambda line: None)


def test_a_fine_tune_records_its_command_and_the_run_it_started_from(tmp_path):
    from inference.nano.__main__ import main
    from inference.nano.checkpoint import read_meta

    tiny = ["--steps", "2", "--batch", "2", "--hidden", "32", "--heads", "2", "--kv-heads", "1",
            "--head-dim", "16", "--experts", "2", "--experts-per-token", "1", "--expert-hidden", "32"]
    corpus().save(tmp_path / "corpus.npz")
    main(["train", "--out", str(tmp_path / "a"), "--corpus", str(tmp_path / "corpus.npz"), *tiny])
    main(["train", "--out", str(tmp_path / "b"), "--init", str(tmp_path / "a"), "--corpus",
          str(tmp_path / "corpus.npz"), "--distill-weight", "2", *tiny])
    first, second = read_meta(tmp_path / "a")["info"], read_meta(tmp_path / "b")["info"]
    assert second["command"].startswith("python -m inference.nano train --out ")
    assert "--distill-weight 2" in second["command"]
    assert second["started_from"] == first and "started_from" not in first
