"""The training corpus: conversations rendered to token ids, the positions the loss trains on,
and the corpus in the model's compact id space.

`render` uses the product's own renderer (`inference.harmony.render_training`), so the model
learns exactly the token layout the product feeds it and parses back. The loss covers only
what the assistant emits in the last turn (`training_data.trained_positions`); the prompt, tool results and
earlier turns are context. `examples` draws in fixed chunks of `CHUNK` conversations, each its
own generator stream, so the corpus does not depend on how many processes render it.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

import numpy as np
import torch

from .. import harmony, training_data
from .generator import Generator
from .problems import ContextMsg, Mix, Problem


@dataclass
class Example:
    """Token ids of one rendered conversation and which positions the loss trains on."""

    ids: list[int]
    trained: list[bool]


def render(problem: Problem) -> Example:
    messages = problem.messages
    ids = harmony.render_training(messages, problem.settings)
    marks = training_data.trained_positions(ids)
    for k, msg in enumerate(messages):
        if isinstance(msg, ContextMsg):
            # Its tokens start right after the `<|start|>assistant` a prompt up to it ends with.
            start = len(harmony.render_prompt(messages[:k], problem.settings))
            end = ids.index(harmony.CALL, start) if msg.recipient else ids.index(harmony.END, start)
            marks[start:end + 1] = [False] * (end + 1 - start)
    return Example(ids, marks)


CHUNK = 2_000  # conversations drawn from one generator stream


def examples_chunk(seed: int, chunk: int, count: int, mix: Mix = Mix()) -> list[Example]:
    gen = Generator(f"{seed}:{chunk}", mix=mix)
    return [render(gen.problem()) for _ in range(count)]


def examples(seed: int, count: int, mix: Mix = Mix(), workers: int = 2) -> list[Example]:
    """`count` rendered conversations, drawn in fixed chunks (each its own stream) so that the
    corpus is the same whatever the number of worker processes rendering it (one chunk is
    rendered in this process)."""
    jobs = [(seed, i, min(CHUNK, count - start), mix) for i, start in enumerate(range(0, count, CHUNK))]
    if workers <= 1 or len(jobs) == 1:
        chunks = [examples_chunk(*job) for job in jobs]
    else:
        import multiprocessing

        with multiprocessing.get_context("spawn").Pool(workers) as pool:
            chunks = pool.starmap(examples_chunk, jobs)
    return [example for chunk in chunks for example in chunk]


def copied_tokens(used_ids: list[int]) -> np.ndarray:
    """Which ids are copied from the prompt rather than templated: digit chunks (o200k splits
    numbers into runs of up to three digits) and the effort words the analysis restates."""
    from ..harmony import EFFORTS, decode

    efforts = {f" {effort}" for effort in EFFORTS}
    texts = [decode([t]) for t in used_ids]
    return np.array([text.strip().isdigit() or text in efforts for text in texts], dtype=bool)



def exported_examples(path) -> list[Example]:
    """The rows of a file `manage.py export_transcripts` wrote (either format) as examples."""
    return [Example(row.tokens, [bool(m) for m in row.loss_mask])
            for row in training_data.read_token_rows(path)]


class Corpus:
    """Examples mapped into the compact id space: row i of the model is token used_ids[i].
    `drawn` says how the examples were drawn (seed, count, mix) where that is known; a checkpoint
    records it, since with a corpus rendered earlier the recipe's data fields are not what trained."""

    def __init__(self, examples: list[Example], used_ids: list[int] | None = None, drawn: dict | None = None):
        self.drawn = drawn
        self.used_ids = used_ids or sorted({t for e in examples for t in e.ids})
        self.copied = copied_tokens(self.used_ids)
        index = {t: i for i, t in enumerate(self.used_ids)}
        self.ids = [np.array([index[t] for t in e.ids], dtype=np.int32) for e in examples]
        self.trained = [np.array(e.trained, dtype=bool) for e in examples]

    @classmethod
    def draw(cls, seed: int, count: int, mix: Mix, used_ids: list[int] | None = None) -> "Corpus":
        drawn = {"seed": seed, "examples": count, **asdict(mix)}
        return cls(examples(seed, count, mix), used_ids, drawn)

    def save(self, path) -> None:
        lengths = np.array([len(x) for x in self.ids])
        np.savez_compressed(path, used_ids=np.array(self.used_ids), copied=self.copied, lengths=lengths,
                            ids=np.concatenate(self.ids), trained=np.concatenate(self.trained),
                            drawn=np.array(json.dumps(self.drawn)))

    @classmethod
    def load(cls, path) -> "Corpus":
        data = np.load(path)
        corpus = cls.__new__(cls)
        # corpora saved before `drawn` was stored do not say how they were drawn
        corpus.drawn = json.loads(str(data["drawn"])) if "drawn" in data.files else None
        corpus.used_ids = data["used_ids"].tolist()
        corpus.copied = data["copied"]
        cuts = np.cumsum(data["lengths"])[:-1]
        corpus.ids = np.split(data["ids"], cuts)
        corpus.trained = np.split(data["trained"], cuts)
        return corpus

    def mapped_to(self, used_ids: list[int]) -> "Corpus":
        """The same conversations in another model's id space (a checkpoint to fine-tune, whose
        corpus held a few more tokens); refused if a token here is not among `used_ids`."""
        missing = set(self.used_ids) - set(used_ids)
        if missing:
            raise ValueError(f"{len(missing)} token ids of the corpus are not in the model's")
        index = {t: i for i, t in enumerate(used_ids)}
        row = np.array([index[t] for t in self.used_ids], dtype=np.int32)
        corpus = Corpus.__new__(Corpus)
        corpus.drawn = self.drawn
        corpus.used_ids, corpus.copied = list(used_ids), copied_tokens(used_ids)
        corpus.ids, corpus.trained = [row[ids] for ids in self.ids], self.trained
        return corpus

    def extended(self, extra: list[Example], source: list[dict]) -> "Corpus":
        """This corpus and `extra` conversations (exported turns, `--extra`), each trained where
        its loss mask says, in the id space of both. `source` (files and row counts) is
        recorded with how the corpus was drawn."""
        used_ids = sorted(set(self.used_ids).union(t for e in extra for t in e.ids))
        corpus = self.mapped_to(used_ids)
        index = {t: i for i, t in enumerate(used_ids)}
        corpus.ids = corpus.ids + [np.array([index[t] for t in e.ids], dtype=np.int32) for e in extra]
        corpus.trained = list(corpus.trained) + [np.array(e.trained, dtype=bool) for e in extra]
        if corpus.drawn is not None:
            corpus.drawn = {**corpus.drawn, "extra": source}
        return corpus

    def batch(self, rows: list[int], device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Right-padded inputs, next-token targets and the mask of targets the loss uses."""
        length = max(len(self.ids[r]) for r in rows)
        ids = np.zeros((len(rows), length), dtype=np.int64)
        mask = np.zeros((len(rows), length), dtype=bool)
        for i, r in enumerate(rows):
            ids[i, : len(self.ids[r])] = self.ids[r]
            mask[i, : len(self.ids[r])] = self.trained[r]
        ids, mask = torch.from_numpy(ids).to(device), torch.from_numpy(mask).to(device)
        return ids[:, :-1], ids[:, 1:], mask[:, 1:]

    def batches(self, rows: list[int], device, parts: int = 4) -> list[tuple]:
        """The same conversations as `batch(rows)`, in `parts` groups of similar length, each
        padded on its own. Random batches pad a quarter of their tokens and nearly half of their
        attention; splitting the computation, not the batch, keeps every step's
        conversations and loss as they were and saves about a third of a step on two cores."""
        rows = sorted(rows, key=lambda r: len(self.ids[r]))
        cuts = [len(rows) * i // parts for i in range(parts + 1)]
        return [self.batch(rows[a:b], device) for a, b in zip(cuts, cuts[1:]) if b > a]

