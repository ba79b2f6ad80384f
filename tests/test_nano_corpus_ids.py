"""A corpus rendered on its own can fine-tune a checkpoint whose ids it fits: it is mapped into
the checkpoint's id space (the same tokens), and refused if it holds a token the model lacks."""

import numpy as np
import pytest

from inference.nano.corpus import Corpus, render
from inference.nano.generator import Generator


def small_corpus(seed):
    gen = Generator(seed=seed)
    return Corpus([render(gen.problem()) for _ in range(6)])


def test_a_corpus_is_mapped_into_a_larger_id_space_token_for_token():
    corpus = small_corpus(41)
    wider = sorted(set(corpus.used_ids) | {1, 2, 3, 200_000})
    mapped = corpus.mapped_to(wider)
    assert mapped.used_ids == wider and len(mapped.copied) == len(wider)
    for before, after in zip(corpus.ids, mapped.ids):
        assert [wider[i] for i in after] == [corpus.used_ids[i] for i in before]
    assert all(np.array_equal(a, b) for a, b in zip(corpus.trained, mapped.trained))


def test_a_corpus_with_a_token_the_model_lacks_is_refused():
    corpus = small_corpus(42)
    with pytest.raises(ValueError, match="not in the model's"):
        corpus.mapped_to(corpus.used_ids[1:])
