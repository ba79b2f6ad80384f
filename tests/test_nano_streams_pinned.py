"""The benchmark's held-out problems, and the corpora drawn with the documented `data` commands,
stay exactly what they were: figures compare across checkpoints only on the same problems, and
the shipped checkpoint's training command (docs/nano.md) is reproducible only from the same
corpus. A new knob of the mix must leave the default draws alone; a deliberate change to the
data updates these fingerprints and says so in docs/nano.md."""

import hashlib

from inference.bench import held_out_problems
from inference.nano.generator import Generator
from inference.nano.recipe import Recipe


def fingerprint(problems) -> str:
    text = "\n".join(f"{p.kind}|{p.settings!r}|{[m.text for m in p.prompt]}|{[m.text for m in p.answer]}|{p.expected}"
                     for p in problems)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def test_held_out_problems_are_unchanged():
    assert fingerprint(held_out_problems(200)) == "db4a990ca2df0fd1"
    assert fingerprint(held_out_problems(200, after_an_exchange=True)) == "fee3566f6bdc9801"


def test_the_default_training_corpus_is_unchanged():
    gen = Generator("0:0", mix=Recipe().mix)  # chunk 0 of `train`'s corpus with the default recipe
    assert fingerprint([gen.problem() for _ in range(500)]) == "8e16506cb11aaab4"
