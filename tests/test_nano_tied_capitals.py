"""Training ties each spaced run of capital letters (` XC`, as in a request) to its bare twin
(`XC`, as in JSON) through one shared offset, and the checkpoint it writes keeps that tie."""

import torch

from inference.harmony import decode, encode
from inference.nano.train import Corpus, Recipe, TiedRows, capital_pairs, train
from inference.nano.data import examples


def test_capital_pairs_join_spaced_and_bare_letter_runs():
    used = sorted(set(encode('code XC8732 and K9 in {"a": "XC8732", "b": "K9"}, not the code')))
    spaced, bare = capital_pairs(used)
    pairs = {(decode([used[s]]), decode([used[b]])) for s, b in zip(spaced, bare)}
    assert pairs == {(" XC", "XC"), (" K", "K")}


def test_tied_rows_differ_by_one_offset_and_resume_exactly():
    weight = torch.nn.Parameter(torch.randn(6, 4))
    tied = TiedRows(weight, spaced=[0, 1], bare=[2, 3])
    rows = tied()
    assert torch.allclose(rows[0] - rows[2], rows[1] - rows[3])
    assert torch.equal(rows[4:], weight[4:])
    tied.materialise()
    resumed = TiedRows(weight, spaced=[0, 1], bare=[2, 3])
    assert torch.allclose(resumed(), weight)


def test_the_spaced_rows_learn_only_through_their_twins(tmp_path):
    corpus = Corpus(examples(seed=13, count=8))
    spaced, bare = capital_pairs(corpus.used_ids)
    assert spaced, "the corpus should hold some codes"
    recipe = Recipe(tie_capitals=True, steps=4, batch=4, warmup=1, hidden=32, heads=2, kv_heads=1, head_dim=16,
                    experts=2, experts_per_token=1, expert_hidden=32)
    model, _ = train(tmp_path / "ckpt", recipe, corpus=corpus, log=lambda line: None)
    rows = model.model.embed_tokens.weight.detach()
    differences = rows[spaced] - rows[bare]
    assert torch.allclose(differences, differences[:1].expand_as(differences), atol=1e-6)
