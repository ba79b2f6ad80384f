"""Training batches: drawn at random by default, or of conversations of similar length
(`--batching length`, less padding per step); an unknown batching is refused."""

import random

import pytest

from inference.nano.data import Example
from inference.nano.train import Corpus


def corpus_of_lengths(lengths):
    return Corpus([Example(ids=[200006 + (i % 3)] * n, trained=[True] * n) for i, n in enumerate(lengths)])


def spread(corpus, batch):
    lengths = [len(corpus.ids[r]) for r in batch]
    return max(lengths) - min(lengths)


def test_length_batches_hold_conversations_of_similar_length():
    lengths = [random.Random(i).randrange(20, 600) for i in range(2_000)]
    corpus = corpus_of_lengths(lengths)
    by_length = corpus.batches(16, "length", random.Random(0))
    at_random = corpus.batches(16, "random", random.Random(0))
    length_spreads = [spread(corpus, next(by_length)) for _ in range(100)]
    random_spreads = [spread(corpus, next(at_random)) for _ in range(100)]
    assert sum(length_spreads) * 10 < sum(random_spreads)


def test_every_batch_holds_distinct_conversations():
    corpus = corpus_of_lengths(range(10, 110))
    for how in ("random", "length"):
        batches = corpus.batches(8, how, random.Random(1))
        for _ in range(50):
            batch = next(batches)
            assert len(batch) == len(set(batch)) == 8


def test_unknown_batching_is_refused():
    with pytest.raises(ValueError, match="batching must be"):
        next(corpus_of_lengths(range(10, 30)).batches(4, "sorted", random.Random(0)))
