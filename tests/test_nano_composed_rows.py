"""With `compose_codes`, the rows of two-capital tokens (`GX`, ` GX`) are built from letter
vectors: every pair's row is distinct, its spaced and bare forms differ by one shared vector,
and what is saved is a standard checkpoint that a further run resumes exactly."""

import pytest
import torch

from inference.harmony import decode, encode
from inference.nano import checkpoint
from inference.nano.__main__ import main
from inference.nano.corpus import Corpus, render
from inference.nano.generator import Generator
from inference.nano.letter_rows import ComposedRows, letter_pair_rows
from inference.nano.problems import Mix
from inference.nano.recipe import Recipe
from inference.nano.train import train
from tests.tiny_gptoss import tiny_recipe


def code_corpus() -> Corpus:
    gen = Generator(seed=34, mix=Mix(code_rate=1.0))
    return Corpus([render(gen.problem("function")) for _ in range(12)])


def code_recipe(**changes) -> Recipe:
    return tiny_recipe(**{"compose_codes": True, "compose_singles": False, **changes})


def test_pair_rows_are_found_bare_and_spaced_with_their_letters():
    gx, spaced_gx = encode("GX")[0], encode(" GX")[0]
    used = sorted({gx, spaced_gx, encode(" order")[0], encode("7")[0]})
    rows = letter_pair_rows(used)
    assert sorted(used[r] for r in rows["rows"]) == sorted([gx, spaced_gx])
    for row, first, second, spaced in zip(*rows.values()):
        assert decode([used[row]]) == (" " if spaced else "") + chr(65 + first) + chr(65 + second)


def spaced_minus_bare(weight: torch.Tensor, used: list[int], singles: bool = False) -> torch.Tensor:
    """` XY` row minus `XY` row, for every pair (and single letter) that the corpus has in both forms."""
    rows = letter_pair_rows(used, singles)
    bare = {(a, b): row for row, a, b, spaced in zip(*rows.values()) if not spaced}
    return torch.stack([weight[row] - weight[bare[a, b]]
                        for row, a, b, spaced in zip(*rows.values()) if spaced and (a, b) in bare])


def test_single_letters_of_codes_are_found_only_when_asked():
    k, spaced_k, q, gx = (encode(text)[0] for text in ("K", " K", "Q", "GX"))
    used = sorted({k, spaced_k, q, gx, encode(" order")[0], encode(" I")[0]})
    assert [used[r] for r in letter_pair_rows(used)["rows"]] == [gx]
    rows = letter_pair_rows(used, singles=True)
    assert sorted(used[r] for r in rows["rows"]) == sorted([k, spaced_k, q, gx])
    for row, first, second, spaced in zip(*rows.values()):
        letters = decode([used[row]]).strip()
        assert letters[0] == chr(65 + first) and (second == -1) == (len(letters) == 1)


def test_composed_single_letters_share_the_space_vector_with_pairs(tmp_path):
    corpus = code_corpus()
    train(tmp_path / "ckpt", code_recipe(compose_singles=True), corpus=corpus, log=lambda line: None)
    model, used = checkpoint.load_compact(tmp_path / "ckpt")
    weight = model.model.embed_tokens.weight.detach()
    differences = spaced_minus_bare(weight, used, singles=True)
    assert len(differences) > len(spaced_minus_bare(weight, used))
    assert (differences - differences[0]).abs().max().item() < 0.02  # bf16 on disk


def test_composed_singles_need_composed_codes(tmp_path):
    with pytest.raises(ValueError, match="compose_codes"):
        train(tmp_path / "x", code_recipe(compose_codes=False, compose_singles=True), corpus=code_corpus(),
              log=lambda line: None)


@pytest.mark.parametrize("compose", [True, False])
def test_spaced_and_bare_rows_differ_by_one_shared_vector_only_when_composed(compose, tmp_path):
    corpus = code_corpus()
    train(tmp_path / "ckpt", code_recipe(compose_codes=compose), corpus=corpus, log=lambda line: None)
    model, used = checkpoint.load_compact(tmp_path / "ckpt")
    differences = spaced_minus_bare(model.model.embed_tokens.weight.detach(), used)
    assert len(differences) >= 3
    spread = (differences - differences[0]).abs().max().item()
    assert (spread < 0.02) == compose  # bf16 on disk


def test_a_composed_model_resumes_exactly(tmp_path):
    corpus = code_corpus()
    model, _ = train(tmp_path / "ckpt", code_recipe(), corpus=corpus, log=lambda line: None)
    weight = model.model.embed_tokens.weight
    before = weight.detach().clone()
    resumed = ComposedRows(weight, letter_pair_rows(corpus.used_ids))
    torch.testing.assert_close(resumed(weight).detach(), before, atol=1e-5, rtol=0)


@pytest.mark.parametrize("value", ["maybe", "2"])
def test_a_boolean_recipe_flag_must_say_true_or_false(value, capsys):
    with pytest.raises(SystemExit):
        main(["train", "--out", "unused", "--compose-codes", value])
    assert "expected true or false" in capsys.readouterr().err
