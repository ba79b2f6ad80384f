"""A training mix can word the model's bare-number answers ("334301" becomes "The answer is
334301."), which models misread at the first token; the history a follow-up is asked after, and
the benchmark's problems, keep theirs."""

import re

from inference.nano.generator import Generator
from inference.nano.problems import Mix

BARE = re.compile(r"-?\d+(\.\d+)?")


def finals(problems, where):
    return [m.text for p in problems for m in where(p) if m.channel == "final"]


def draw(mix: Mix, kind: str, n: int = 300):
    gen = Generator(seed=51, mix=mix)
    return [gen.problem(kind) for _ in range(n)]


def test_worded_answers_are_never_bare():
    for kind in ("arithmetic", "follow_up"):
        answers = finals(draw(Mix(bare_answer_rate=0.0), kind), lambda p: p.answer)
        assert answers and not any(BARE.fullmatch(text) for text in answers)


def test_the_default_mix_keeps_bare_answers():
    answers = finals(draw(Mix(), "arithmetic"), lambda p: p.answer)
    assert sum(bool(BARE.fullmatch(text)) for text in answers) > 20


def test_follow_up_histories_keep_bare_answers():
    histories = finals(draw(Mix(bare_answer_rate=0.0), "follow_up"), lambda p: p.prompt)
    assert sum(bool(BARE.fullmatch(text)) for text in histories) > 20
