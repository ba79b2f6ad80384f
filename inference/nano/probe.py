"""`python -m inference.nano probe [--model DIR]`: where a checkpoint's next-token predictions go
wrong, by kind of target token, on fresh conversations drawn with a seed training never used.

The benchmark says which problems fail; this says which tokens. Letter codes are the known weak
spot: o200k writes a code's letters as other ids after a space (` GX`) than after
a quote (`GX`), so the capital-letter error is reported apart from the copied digits and effort
words and from everything else. It costs seconds, not the benchmark's minutes.
"""

from __future__ import annotations

import numpy as np
import torch

from . import checkpoint, forward
from .corpus import Corpus, examples_chunk, render
from .generator import Generator
from .letter_rows import letter_pair_rows
from .loss import restricted_logits
from .problems import Mix, is_letter_code

PROBE_SEED = 7  # training renders seed 0 (and the benchmark its own held-out seed)


def capital_tokens(used_ids: list[int]) -> np.ndarray:
    from ..harmony import decode

    texts = [decode([t]).strip() for t in used_ids]
    return np.array([text.isalpha() and text.isupper() for text in texts], dtype=bool)


def trained_logits(model, corpus: Corpus):
    """(logits, targets) at the trained positions of the corpus, 16 conversations at a time; the
    logits cover the model's own ids plus the stand-in column for all other ids."""
    model.eval()
    with torch.no_grad():
        for start in range(0, len(corpus.ids), 16):
            inputs, targets, mask = corpus.batch(list(range(start, min(start + 16, len(corpus.ids)))), "cpu")
            yield restricted_logits(model, forward.hidden_at(model, inputs, mask)), targets[mask]


def probe(model_dir=checkpoint.DEFAULT_PATH, conversations: int = 1000, seed: int = PROBE_SEED) -> dict:
    """{kind: {"tokens", "loss", "error"}} over the trained positions; the error is the argmax
    over the model's own ids (the stand-in column for all other ids is left out)."""
    model, used = checkpoint.load_compact(model_dir)
    index = {t: i for i, t in enumerate(used)}
    corpus = Corpus([e for e in examples_chunk(seed, 0, conversations) if all(t in index for t in e.ids)], used)
    capitals = torch.from_numpy(capital_tokens(used))
    copied = torch.from_numpy(corpus.copied)
    totals = {kind: [0.0, 0, 0] for kind in ("all", "capital letters", "copied digits and effort", "other")}
    for logits, wanted in trained_logits(model, corpus):
        losses = torch.nn.functional.cross_entropy(logits, wanted, reduction="none")
        wrong = logits[:, :-1].argmax(-1) != wanted
        for kind, where in (("all", torch.ones_like(wanted, dtype=torch.bool)),
                            ("capital letters", capitals[wanted]),
                            ("copied digits and effort", copied[wanted]),  # never capitals
                            ("other", ~copied[wanted] & ~capitals[wanted])):
            totals[kind][0] += float(losses[where].sum())
            totals[kind][1] += int(where.sum())
            totals[kind][2] += int(wrong[where].sum())
    return {kind: {"tokens": n, "loss": round(loss / max(n, 1), 4), "error": round(errors / max(n, 1), 4)}
            for kind, (loss, n, errors) in totals.items()}


def table(result: dict) -> str:
    lines = [f"{'target tokens':<26}{'tokens':>8}{'loss':>9}{'error':>9}"]
    lines += [f"{kind:<26}{row['tokens']:>8}{row['loss']:>9.4f}{row['error']:>9.4f}" for kind, row in result.items()]
    return "\n".join(lines)


def code_pairs(model_dir=checkpoint.DEFAULT_PATH, problems: int = 40, seed: int = PROBE_SEED) -> dict:
    """Teacher-forced at low effort, on held-out function problems whose arguments all draw
    letter codes: at each bare letter pair the model writes (`GX` after a quote), is it the
    argmax, and what is its rank among the model's ids? Far finer than the benchmark's ten
    code problems, whose calls must be right in every token."""
    model, used = checkpoint.load_compact(model_dir)
    index = {t: i for i, t in enumerate(used)}
    pairs = letter_pair_rows(used)
    bare = torch.zeros(len(used), dtype=torch.bool)
    bare[[row for row, spaced in zip(pairs["rows"], pairs["spaced"]) if not spaced]] = True
    examples, attempt = [], 0
    while len(examples) < problems:
        problem = Generator(f"codes:{seed}:{attempt}", held_out=True, mix=Mix(code_rate=1.0)).problem(
            "function", "low")
        attempt += 1
        example = render(problem)
        if any(map(is_letter_code, problem.expected["call"]["arguments"].values())) and all(
                t in index for t in example.ids):
            examples.append(example)
    ranks = []
    for logits, wanted in trained_logits(model, Corpus(examples, used)):
        at = bare[wanted]
        own = logits[at, :-1]
        ranks += (own > own.gather(1, wanted[at, None])).sum(1).tolist()
    return {"pairs": len(ranks), "right": sum(r == 0 for r in ranks),
            "median_rank": int(np.median(ranks)) if ranks else None}
