"""The benchmark's held-out problems, and the corpora drawn with the documented `data` commands,
stay exactly what they were: figures compare across checkpoints only on the same problems, and
the shipped checkpoint's chain of runs (docs/nano.md) is reproducible only from the same
corpora. A new knob of the mix must leave the default draws alone; a deliberate change to the
data updates these fingerprints and says so in docs/nano.md."""

import hashlib

from inference.bench import held_out_problems
from inference.nano.data import Generator, Mix


def fingerprint(problems) -> str:
    text = "\n".join(f"{p.kind}|{p.settings!r}|{[m.text for m in p.prompt]}|{[m.text for m in p.answer]}|{p.expected}"
                     for p in problems)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def test_held_out_problems_are_unchanged():
    assert fingerprint(held_out_problems(200)) == "8fa9b57b535b396e"
    assert fingerprint(held_out_problems(200, after_an_exchange=True)) == "31b978af177696d0"


def test_a_documented_corpus_stream_is_unchanged():
    gen = Generator("0:0", mix=Mix(history_rate=0.5))  # chunk 0 of `data --seed 0 --history-rate 0.5`
    assert fingerprint([gen.problem() for _ in range(500)]) == "46c019da6b5350a9"
