"""Letter codes' rows built from letter vectors (`compose_codes`, `compose_singles`).

Codes like `GX1234` are copied from the request into a call; o200k writes their letters as one
of 576 pair tokens (another id after a space than after a quote), each seen too rarely to get a
row of its own that copying can tell apart. Training composes those rows from 26 + 26 letter
vectors and a shared `space` vector instead; the checkpoint stores the composed rows as plain
embedding rows.
"""

from __future__ import annotations

import torch


def letter_pair_rows(used_ids: list[int], singles: bool = False) -> dict[str, list[int]]:
    """Rows of the tokens that are two capital letters, bare (`GX`) or after a space (` GX`),
    with the index (0-25) of each letter and whether the space is there. With `singles`, also the
    tokens that are one letter of a code (` K`, `Q`: o200k merges only 487 of the 576 pairs after
    a quote and 467 after a space, so `KQ9875` is ` K` `Q` `987` `5`), with second letter -1."""
    from ..harmony import decode
    from .wordings import CODE_LETTERS

    found = {"rows": [], "first": [], "second": [], "spaced": []}
    for row, token in enumerate(used_ids):
        text = decode([token])
        letters = text[1:] if text.startswith(" ") else text
        pair = len(letters) == 2 and all("A" <= c <= "Z" for c in letters)
        single = singles and len(letters) == 1 and letters in CODE_LETTERS
        if pair or single:
            second = ord(letters[1]) - 65 if pair else -1
            for key, value in zip(found, (row, ord(letters[0]) - 65, second, text != letters)):
                found[key].append(value)
    return found


class ComposedRows(torch.nn.Module):
    """The embedding training uses with `compose_codes`: the row of every two-letter capital
    token is first[X] + second[Y] (+ space, after a space). A letter code's pair of letters is
    one of 576 tokens, each seen about ten times in a run, and after a space it is another id
    than after a quote; as free rows those tokens stay alike, and codes were never copied.
    Built from 53 vectors that every code trains, each pair's row is distinct
    and its spaced and bare forms differ by one shared vector. A single letter's row (if `rows`
    has them) is first[X] + single (+ space): one more vector. `materialise` writes the rows
    into the model, which stays a standard GptOssForCausalLM. The vectors start as the
    least-squares fit of the current rows, so a model trained this way resumes exactly."""

    def __init__(self, weight: torch.Tensor, rows: dict[str, list[int]]):
        super().__init__()
        device = weight.device
        self.register_buffer("rows", torch.tensor(rows["rows"], dtype=torch.long, device=device))
        design = torch.zeros(len(rows["rows"]), 54, device=device)
        at = torch.arange(len(rows["rows"]), device=device)
        second = torch.tensor(rows["second"], device=device)
        design[at, torch.tensor(rows["first"], device=device)] = 1
        design[at[second >= 0], 26 + second[second >= 0]] = 1
        design[:, 52] = torch.tensor(rows["spaced"], dtype=torch.float, device=device)
        design[:, 53] = (second < 0).float()  # all zero without singles: that vector never moves
        self.register_buffer("design", design)
        fit = torch.linalg.lstsq(design.cpu(), weight.detach()[self.rows].float().cpu(), driver="gelsd").solution
        self.vectors = torch.nn.Parameter(fit.to(device=device, dtype=weight.dtype))

    def forward(self, embedding: torch.Tensor) -> torch.Tensor:
        """`embedding` with the composed rows written in (what training's forward pass uses)."""
        return embedding.index_copy(0, self.rows, self.design @ self.vectors)

    @torch.no_grad()
    def materialise(self, weight: torch.nn.Parameter) -> None:
        """Write the composed rows into the model's own embedding."""
        weight.copy_(self(weight))

