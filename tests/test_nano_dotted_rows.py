"""With `compose_dotted`, the row of a word after a dot (`.find`, how a call's header starts the
tool's name) is the row of the same word after a space (` find`, how the declaration and the
analysis write it) plus one shared vector, and what is saved is a standard checkpoint that a
further run resumes exactly."""

import pytest
import torch

from inference.harmony import encode
from inference.nano import checkpoint
from inference.nano.data import Generator, Mix, render
from inference.nano.train import Corpus, DottedRows, dotted_word_rows, train
from tests.tiny_gptoss import tiny_recipe


def function_corpus() -> Corpus:
    gen = Generator(seed=5, mix=Mix())
    return Corpus([render(gen.problem("function")) for _ in range(16)])


def dotted_minus_spaced(weight: torch.Tensor, used: list[int]) -> torch.Tensor:
    dotted, spaced = dotted_word_rows(used)
    return weight[dotted] - weight[spaced]


def test_dotted_words_are_paired_with_their_spaced_form():
    find, spaced_find, eg, spaced_g = (encode(text)[0] for text in (".find", " find", ".g", " g"))
    alone = encode(".cal")[0]  # no ` cal` in the corpus: nothing to build it from
    used = sorted({find, spaced_find, eg, spaced_g, alone, encode(" order")[0]})
    dotted, spaced = dotted_word_rows(used)
    assert [(used[d], used[s]) for d, s in zip(dotted, spaced)] == [(find, spaced_find)]


def test_a_header_starts_the_tool_name_with_a_dotted_word_the_corpus_also_has_spaced():
    corpus = function_corpus()
    dotted, _ = dotted_word_rows(corpus.used_ids)
    assert len(dotted) >= 3


@pytest.mark.parametrize("compose", [True, False])
def test_dotted_and_spaced_rows_differ_by_one_shared_vector_only_when_composed(compose, tmp_path):
    train(tmp_path / "ckpt", tiny_recipe(compose_dotted=compose, compose_codes=True), corpus=function_corpus(),
          log=lambda line: None)
    model, used = checkpoint.load_compact(tmp_path / "ckpt")
    differences = dotted_minus_spaced(model.model.embed_tokens.weight.detach(), used)
    spread = (differences - differences[0]).abs().max().item()
    assert (spread < 0.02) == compose  # bf16 on disk


def test_a_model_with_dotted_rows_resumes_exactly(tmp_path):
    corpus = function_corpus()
    model, _ = train(tmp_path / "ckpt", tiny_recipe(compose_dotted=True), corpus=corpus, log=lambda line: None)
    weight = model.model.embed_tokens.weight
    before = weight.detach().clone()
    resumed = DottedRows(weight, *dotted_word_rows(corpus.used_ids))
    torch.testing.assert_close(resumed(weight).detach(), before, atol=1e-5, rtol=0)
