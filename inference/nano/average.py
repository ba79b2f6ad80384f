"""Weight averaging of compact checkpoints fine-tuned from the same one (`python -m inference.nano
average A B --out DIR`).

Two fine-tunes of one checkpoint in different mixes stay close enough in weight space that their
average is a model of its own (a "model soup"): it keeps what both kept of the checkpoint they
started from and much of what each learnt. Each fine-tune in the broadened mix lost a few
in-template builder problems to drift; averaged with the checkpoint it started from, most of
those came back while most of the new skills stayed (docs/nano.md).
"""

from __future__ import annotations

import torch

from .checkpoint import EMBED, TIED, CheckpointError, load_compact, read_meta, save_compact


@torch.no_grad()
def average(paths: list, weights: list[float], out, command: str = ""):
    """Write the weighted mean of the checkpoints at `paths` to `out`. The weights are
    normalised to sum to 1. A token some checkpoints lack (a fine-tune's corpus brought it) gets
    the mean of the rows of those that have it, weighted likewise."""
    if len(paths) < 2 or len(paths) != len(weights) or any(w <= 0 for w in weights):
        raise CheckpointError("average needs two or more checkpoints, each with a positive weight")
    loaded = [load_compact(path) for path in paths]
    configs = [{k: v for k, v in model.config.to_dict().items() if k != "vocab_size"} for model, _ in loaded]
    if any(c != configs[0] for c in configs[1:]):
        raise CheckpointError("only checkpoints of the same model configuration can be averaged")
    total = sum(weights)
    weights = [w / total for w in weights]
    union = sorted(set().union(*(used for _, used in loaded)))
    row_of = {token: i for i, token in enumerate(union)}
    states = [model.state_dict() for model, _ in loaded]
    averaged = {}
    for key in states[0]:
        if key == TIED:
            continue
        if key == EMBED:
            rows = torch.zeros(len(union), states[0][key].shape[1])
            mass = torch.zeros(len(union), 1)
            for (_, used), state, w in zip(loaded, states, weights):
                where = torch.tensor([row_of[t] for t in used])
                rows[where] += w * state[key]
                mass[where] += w
            averaged[key] = rows / mass
        else:
            averaged[key] = sum(w * state[key] for state, w in zip(states, weights))
    model = loaded[0][0]
    model.config.vocab_size = len(union)
    soup = type(model)(model.config)
    soup.load_state_dict(averaged, strict=False)
    soup.tie_weights()
    info = {"command": command,
            "averaged": [{"weight": round(w, 6), "checkpoint": read_meta(p).get("info", {})}
                         for p, w in zip(paths, weights)]}
    return save_compact(soup, union, out, info)
