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


def test_each_held_out_set_asks_its_kinds():
    from inference import bench_sets

    kinds = {name: Counter(p.kind for p in bench_sets.problems_of(name)) for name in bench_sets.SETS}
    assert kinds["held-out-wordings"] == {"arithmetic": 36, "clock": 12, "chat": 12}
    assert kinds["held-out-functions"] == {"function": 30}
    assert set(kinds["first-messages"]) == {"chat", "arithmetic", "clock", "function"}


def test_held_out_function_shapes_use_held_out_names_and_state_the_value_in_the_request():
    from inference import bench_sets

    for problem in bench_sets.problems_of("held-out-functions"):
        (value,) = problem.expected["call"]["arguments"].values()
        assert value in problem.prompt[-1].text
        assert all(split(t.name) == "held_out" for t in problem.settings.tools)
