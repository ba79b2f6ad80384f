"""The training mix can hold more letter codes than the benchmark without changing the
benchmark, whose tool results never hold one."""

import re

from inference.bench import held_out_problems
from inference.nano.generator import Generator
from inference.nano.problems import Mix
from inference.nano.recipe import Recipe

CODE = re.compile(r"\b[A-Z]{2}\d{2,4}\b")


def codes_in(problems, where) -> int:
    return sum(len(CODE.findall(text)) for p in problems for text in where(p))


def function_problems(mix: Mix, n: int = 400):
    gen = Generator(seed=21, mix=mix)
    return [gen.problem("function") for _ in range(n)]


def test_a_training_mix_can_ask_for_more_codes_in_requests():
    recipe = Recipe(code_rate=0.9, history_rate=0.0)  # codes the only difference
    benchmark, training = function_problems(Mix()), function_problems(recipe.mix)
    requests = lambda p: [m.text for m in p.prompt]  # noqa: E731
    assert codes_in(training, requests) > 2 * codes_in(benchmark, requests)


def test_the_benchmark_problems_keep_the_default_mix():
    problems = held_out_problems(200)
    assert codes_in(problems, lambda p: p.tool_results.values()) == 0
    assert 5 <= codes_in(problems, lambda p: [m.text for m in p.prompt]) <= 20
