"""Training gpt-oss-nano: the optimisation loop over the corpus, and the compact checkpoint it
writes.

`train` draws the corpus (`corpus.Corpus.draw`), builds the model with its initialised heads
(`heads.new_model`), and runs AdamW over random batches of conversations with the restricted
softmax (`loss`) and the training forward pass (`forward`); letter codes' rows are composed from
letter vectors (`letter_rows`). Given a `model` (a checkpoint loaded with
`checkpoint.load_compact`), it continues training that model on the same code path.
"""

from __future__ import annotations

import math
import random
import time
from dataclasses import asdict
from pathlib import Path

import torch

from . import checkpoint
from .corpus import Corpus
from .heads import new_model
from .letter_rows import ComposedRows, letter_pair_rows
from .loss import batch_logits, cross_entropy
from .recipe import DATA_FIELDS, Recipe


def lr_at(step: int, recipe: Recipe) -> float:
    if step < recipe.warmup:
        return recipe.lr * (step + 1) / recipe.warmup
    progress = (step - recipe.warmup) / max(1, recipe.steps - recipe.warmup)
    floor = recipe.final_lr_fraction
    return recipe.lr * (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress)))


def optimiser(model, letters: ComposedRows | None, recipe: Recipe):
    """AdamW over the model (weight decay on its matrices, not on the embedding) and the letter
    vectors that compose code rows, with the parameters it trains."""
    own = list(model.named_parameters())
    decay = [p for n, p in own if p.ndim >= 2 and "embed" not in n]
    rest = [p for n, p in own if not (p.ndim >= 2 and "embed" not in n)]
    groups = [{"params": decay, "weight_decay": recipe.weight_decay}, {"params": rest, "weight_decay": 0.0}]
    if letters is not None:
        groups.append({"params": [letters.vectors], "weight_decay": 0.0})
    trained = [p for group in groups for p in group["params"]]
    return torch.optim.AdamW(groups, lr=recipe.lr, betas=(0.9, 0.98)), trained


def materialise(weight: torch.nn.Parameter, letters: ComposedRows | None) -> None:
    """Write the composed letter rows into the model, which stays a standard GptOssForCausalLM."""
    if letters is not None:
        letters.materialise(weight)


def run_record(recipe: Recipe, corpus: Corpus) -> dict:
    """The recipe without its data fields, and the corpus as it was drawn (None: not recorded)."""
    return {"recipe": {k: v for k, v in asdict(recipe).items() if k not in DATA_FIELDS}, "corpus": corpus.drawn}


def train(out, recipe: Recipe | None = None, corpus: Corpus | None = None, device="cpu",
          log=print, model=None, save_every: int = 0, provenance: dict | None = None):
    """Train (or, given `model`, fine-tune) and write a compact checkpoint to `out` (also every
    `save_every` steps, so that a run cut short still leaves its latest weights). `provenance`
    (the command, the starting checkpoint's own info) is saved with it: a fine-tune's figures
    are reproducible only with the whole chain of runs behind it."""
    recipe = recipe or Recipe()
    started = time.time()
    random.seed(recipe.seed)
    if corpus is None:
        log(f"rendering {recipe.examples} conversations (seed {recipe.seed})")
        corpus = Corpus.draw(recipe.seed, recipe.examples, recipe.mix)
    data_s = time.time() - started
    log(f"corpus: {len(corpus.ids)} conversations, {len(corpus.used_ids)} token ids, {data_s:.0f}s")
    model = model or new_model(recipe, len(corpus.used_ids), device)
    model.train()
    if recipe.compose_singles and not recipe.compose_codes:
        raise ValueError("compose_singles extends compose_codes: turn that on too")
    weight = model.model.embed_tokens.weight
    letters = (ComposedRows(weight, letter_pair_rows(corpus.used_ids, recipe.compose_singles))
               if recipe.compose_codes else None)
    optim, trained = optimiser(model, letters, recipe)
    # Batches are drawn at random: batches of similar length (whole or prompt) pad less but
    # trained worse models — blind to `Reasoning:`, or less accurate.
    order = random.Random(recipe.seed + 1)
    rows = list(range(len(corpus.ids)))
    token_weight = torch.ones(len(corpus.used_ids), device=device)
    token_weight[torch.from_numpy(corpus.copied).to(device)] = recipe.copy_weight
    running = None
    for step in range(recipe.steps):
        for group in optim.param_groups:
            group["lr"] = lr_at(step, recipe)
        batches = corpus.batches(order.sample(rows, recipe.batch), device)
        logits, targets = batch_logits(model, batches, None if letters is None else letters(weight))
        loss = cross_entropy(logits, targets, token_weight)
        optim.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(trained, 1.0)
        optim.step()
        running = loss.item() if running is None else 0.98 * running + 0.02 * loss.item()
        if step % 100 == 0 or step == recipe.steps - 1:
            log(f"step {step} loss {running:.4f} lr {lr_at(step, recipe):.2e} {time.time() - started:.0f}s")
        if save_every and step and step % save_every == 0:
            materialise(weight, letters)
            checkpoint.save_compact(model, corpus.used_ids, Path(out), {**run_record(recipe, corpus), "step": step})
    materialise(weight, letters)
    model.eval()
    info = {**run_record(recipe, corpus), "train_seconds": round(time.time() - started), "device": str(device),
            "final_loss": round(running, 4), "threads": torch.get_num_threads(), **(provenance or {})}
    path = checkpoint.save_compact(model, corpus.used_ids, Path(out), info)
    log(f"saved {path} after {info['train_seconds']}s")
    return model, corpus
