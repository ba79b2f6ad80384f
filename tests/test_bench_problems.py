"""The benchmark's held-out problems: the training mix of kinds, stable under n, and builder
tools whose names training never uses."""

from collections import Counter

from inference.bench import held_out_problems
from inference.nano.generator import Generator
from inference.nano.problems import split


def test_the_mix_of_kinds_is_the_training_mix():
    counts = Counter(p.kind for p in held_out_problems(200))
    assert counts == {kind: round(200 * w) for kind, w in Generator.KIND_WEIGHTS.items()}


def test_a_smaller_run_asks_the_first_problems_of_a_larger_one():
    small, large = held_out_problems(30), held_out_problems(90)
    assert [p.messages for p in small] == [p.messages for p in large[:30]]


def test_builder_tools_and_their_parameters_are_held_out_names():
    functions = [p for p in held_out_problems(60) if p.kind == "function"]
    assert functions
    for problem in functions:
        for tool in problem.settings.tools:
            assert split(tool.name) == "held_out"
            assert all(split(name) == "held_out" for name in tool.parameters["properties"])
