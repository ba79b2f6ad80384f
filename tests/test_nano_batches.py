"""Training batches: drawn at random by default, or of conversations whose prompts have
similar lengths (`--batching prompt`, less padding per step) whatever their answers' lengths
(which grow with the effort); an unknown batching is refused."""

import random

import pytest

from inference.nano.data import Example
from inference.nano.train import Corpus


def conversation(prompt: int, answer: int) -> Example:
    return Example(ids=[200006] * prompt + [200005] * answer, trained=[False] * prompt + [True] * answer)


def corpus_of(prompts, answers):
    return Corpus([conversation(p, a) for p, a in zip(prompts, answers)])


def spread(values):
    return max(values) - min(values)


def test_prompt_batches_hold_prompts_of_similar_length_and_any_answers():
    rng = random.Random(0)
    prompts = [rng.randrange(200, 600) for _ in range(2_000)]
    answers = [rng.choice([40, 80, 200]) for _ in range(2_000)]
    corpus = corpus_of(prompts, answers)
    by_prompt = corpus.batches(16, "prompt", random.Random(0))
    at_random = corpus.batches(16, "random", random.Random(0))
    batches = [next(by_prompt) for _ in range(100)]
    random_batches = [next(at_random) for _ in range(100)]
    prompt_spread = sum(spread([prompts[r] for r in b]) for b in batches)
    assert prompt_spread * 10 < sum(spread([prompts[r] for r in b]) for b in random_batches)
    # the answers (the effort) stay mixed within a batch
    assert sum(len({answers[r] for r in b}) for b in batches) / len(batches) > 2.5


def test_every_batch_holds_distinct_conversations():
    corpus = corpus_of(range(10, 110), [5] * 100)
    for how in ("random", "prompt"):
        batches = corpus.batches(8, how, random.Random(1))
        for _ in range(50):
            batch = next(batches)
            assert len(batch) == len(set(batch)) == 8


def test_unknown_batching_is_refused():
    with pytest.raises(ValueError, match="batching must be"):
        next(corpus_of(range(10, 30), [5] * 20).batches(4, "length", random.Random(0)))
