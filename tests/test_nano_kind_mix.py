"""A training mix can hold more of the kinds the model gets wrong most (follow-ups, builder
functions) without changing the benchmark's distribution."""

from collections import Counter

from inference.nano.generator import Generator
from inference.nano.problems import KIND_WEIGHTS, Mix
from inference.nano.recipe import Recipe


def kinds(mix: Mix, n: int = 600) -> Counter:
    gen = Generator(seed=41, mix=mix)
    return Counter(gen.problem().kind for _ in range(n))


def test_the_default_mix_draws_the_benchmark_kinds_and_training_asks_for_more_of_the_hardest():
    assert (Mix().follow_up_weight, Mix().function_weight) == (KIND_WEIGHTS["follow_up"], KIND_WEIGHTS["function"])
    trained = Recipe().mix
    assert trained.follow_up_weight > Mix().follow_up_weight
    assert trained.function_weight > Mix().function_weight


def test_a_heavier_follow_up_weight_draws_more_follow_ups():
    default, heavier = kinds(Mix()), kinds(Recipe(follow_up_weight=0.36, function_weight=0.5).mix)
    assert heavier["follow_up"] > 2 * default["follow_up"]
    assert heavier["function"] > default["function"]
    assert heavier["clock"] < default["clock"]
