"""The restricted softmax that makes training fit a CPU, and the loss.

The corpus uses only K of o200k_harmony's 201,088 token ids, so the model is trained with a
K-row (tied) embedding and the softmax runs over those K logits plus one constant logit
log(V - K) that stands for all other ids. In the shipped checkpoint the other ids' rows are
zero, so their logits are exactly 0, and the full model's distribution is the one trained.
"""

from __future__ import annotations

import math

import torch

from . import checkpoint, forward


def other_ids_logit(model) -> float:
    """log(V - K): the summed weight of all zero-row ids, each with logit exactly 0."""
    return math.log(checkpoint.FULL_VOCAB - model.config.vocab_size)


def restricted_logits(model, hidden: torch.Tensor, embedding=None) -> torch.Tensor:
    """Logits over the K used ids plus a last column for every other id together; `embedding`
    replaces the model's tied embedding matrix."""
    logits = model.lm_head(hidden) if embedding is None else hidden @ embedding.T
    const = torch.full((*logits.shape[:-1], 1), other_ids_logit(model), dtype=logits.dtype,
                       device=logits.device)
    return torch.cat([logits, const], dim=-1)


def logits_at(model, inputs, mask, embedding=None) -> torch.Tensor:
    """Restricted logits at the trained positions; `embedding` replaces the tied embedding."""
    return restricted_logits(model, forward.hidden_at(model, inputs, mask, embedding), embedding)


def batch_logits(model, batches: list[tuple], embedding=None):
    """Restricted logits at the trained positions of every part of a batch, and their targets."""
    logits = [logits_at(model, inputs, mask, embedding) for inputs, _, mask in batches]
    return torch.cat(logits), torch.cat([targets[mask] for _, targets, mask in batches])


def loss_on(model, inputs, targets, mask, token_weight=None, embedding=None) -> torch.Tensor:
    """Mean cross-entropy over the trained positions, optionally weighted by target token;
    `embedding` replaces the model's tied embedding matrix."""
    return cross_entropy(logits_at(model, inputs, mask, embedding), targets[mask], token_weight)


def cross_entropy(logits, targets, token_weight=None) -> torch.Tensor:
    """Mean cross-entropy, weighted by `token_weight[target]` where given (the copy weight)."""
    losses = torch.nn.functional.cross_entropy(logits, targets, reduction="none")
    if token_weight is None:
        return losses.mean()
    weight = token_weight[targets]
    return (losses * weight).sum() / weight.sum()

