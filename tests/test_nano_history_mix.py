"""A training mix can put an earlier, unrelated exchange before a new request (as a chat's
second question has one) without changing the benchmark's problems."""

from inference import harmony
from inference.bench import held_out_problems
from inference.nano.corpus import render, trained_positions
from inference.nano.generator import Generator
from inference.nano.problems import Mix
from inference.nano.recipe import Recipe
from tests.test_nano_data import generated_spans, parse


def test_the_benchmark_asks_new_requests_without_history():
    problems = held_out_problems(200)
    assert all(len(p.prompt) == 1 for p in problems if p.kind != "follow_up")
    assert Mix().history_rate == 0.0


def test_a_new_request_can_follow_an_answered_one_and_only_the_new_turn_is_trained():
    gen = Generator(seed=32, mix=Recipe(history_rate=1.0).mix)
    for kind in ("arithmetic", "clock", "function", "out_of_domain"):
        for effort in harmony.EFFORTS:
            problem = gen.problem(kind, effort)
            user, answer, request = problem.prompt
            assert (user.role, answer.role, answer.channel, request.role) == ("user", "assistant", "final", "user")
            ids = render(problem).ids
            prompt = harmony.render_prompt(problem.prompt, problem.settings)
            assert ids[:len(prompt)] == prompt and answer.text in harmony.decode(prompt)
            parsed = [m for span in generated_spans(ids, trained_positions(ids)) for m in parse(span).messages]
            assert [m.text for m in parsed] == [m.text for m in problem.answer if m.role == "assistant"]


def test_follow_ups_keep_their_own_history():
    problem = Generator(seed=33, mix=Mix(history_rate=1.0)).problem("follow_up", "low")
    assert [m.role for m in problem.prompt] == ["user", "assistant", "user"]
