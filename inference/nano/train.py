"""Training gpt-oss-nano: a tiny GptOssForCausalLM on the synthetic harmony corpus.

The trick that makes this cheap on a CPU: the corpus uses only K of o200k_harmony's 201,088
token ids, so the model is built with a K-row (tied) embedding and the softmax runs over those
K logits plus one constant logit log(V - K) that stands for all other ids. At load time the
other ids become zero rows, whose logits are exactly 0 — the same distribution, so training's
loss is the real model's loss. The loss covers only what the assistant emits
(`data.trained_positions`).

Fine-tuning on transcripts exported by the app goes through the same code: render them to
`Example`s and pass them as `examples`.
"""

from __future__ import annotations

import json
import math
import random
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np
import torch

from . import checkpoint, forward
from .data import Example, Mix, examples as draw_examples


@dataclass
class Recipe:
    seed: int = 0
    examples: int = 108_800  # distinct conversations: one epoch of steps * batch
    steps: int = 6_800
    batch: int = 16
    lr: float = 5e-3
    warmup: int = 150
    final_lr_fraction: float = 0.05
    weight_decay: float = 0.01
    # The training mix asks for more of what stays hardest than the benchmark's own (Mix()):
    correction_rate: float = 0.4  # high-effort arithmetic that shows a miscopied call fixed
    code_rate: float = 0.6  # argument values that are letter codes
    history_rate: float = 0.5  # new requests after an earlier exchange
    bare_answer_rate: float = 0.0  # the model's bare-number answers kept bare (the rest are worded)
    follow_up_weight: float = 0.24  # kinds' shares (the benchmark's: KIND_WEIGHTS)
    function_weight: float = 0.40
    copy_weight: float = 3.0  # loss weight of what is copied from the prompt: digits, the effort word
    compose_codes: bool = True  # rows of two-capital tokens (`GX`, ` GX`) built from letter vectors
    compose_singles: bool = True  # with compose_codes: the one-letter tokens of codes (` K`, `Q`) too
    previous_token_margin: float = 4.0  # >0: layer 0's first head starts attending to the previous token
    induction_margin: float = 8.0  # >0, with the above: layer 1's first head starts as an induction head
    layers: int = 2
    hidden: int = 128
    heads: int = 4
    kv_heads: int = 2
    head_dim: int = 32
    experts: int = 4
    experts_per_token: int = 2
    expert_hidden: int = 256
    sliding_window: int = 128

    @property
    def mix(self) -> Mix:
        return Mix(**{f.name: getattr(self, f.name) for f in fields(Mix)})


def build_config(recipe: Recipe, vocab_size: int):
    return checkpoint.config_class()(
        vocab_size=vocab_size, hidden_size=recipe.hidden, intermediate_size=recipe.expert_hidden,
        num_hidden_layers=recipe.layers, num_attention_heads=recipe.heads,
        num_key_value_heads=recipe.kv_heads, head_dim=recipe.head_dim,
        num_local_experts=recipe.experts, num_experts_per_tok=recipe.experts_per_token,
        sliding_window=recipe.sliding_window, tie_word_embeddings=True,
        max_position_embeddings=4096,
        # YaRN as in gpt-oss, scaled down: trained on ~600 tokens, stretched to 4096.
        rope_parameters={"rope_type": "yarn", "factor": 4.0, "beta_fast": 32.0, "beta_slow": 1.0,
                         "truncate": False, "original_max_position_embeddings": 1024,
                         "rope_theta": 150000.0},
    )


def copied_tokens(used_ids: list[int]) -> np.ndarray:
    """Which ids are copied from the prompt rather than templated: digit chunks (o200k splits
    numbers into runs of up to three digits) and the effort words the analysis restates."""
    from ..harmony import EFFORTS, decode

    efforts = {f" {effort}" for effort in EFFORTS}
    texts = [decode([t]) for t in used_ids]
    return np.array([text.strip().isdigit() or text in efforts for text in texts], dtype=bool)


def letter_pair_rows(used_ids: list[int], singles: bool = False) -> dict[str, list[int]]:
    """Rows of the tokens that are two capital letters, bare (`GX`) or after a space (` GX`),
    with the index (0-25) of each letter and whether the space is there. With `singles`, also the
    tokens that are one letter of a code (` K`, `Q`: o200k merges only 487 of the 576 pairs after
    a quote and 467 after a space, so `KQ9875` is ` K` `Q` `987` `5`), with second letter -1."""
    from ..harmony import decode
    from .data import CODE_LETTERS

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
    than after a quote; as free rows those tokens stay alike, and codes were never copied
    (docs/nano.md). Built from 53 vectors that every code trains, each pair's row is distinct
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


DATA_FIELDS = ("examples", *(f.name for f in fields(Mix)))  # the recipe's fields that only draw a corpus


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
        return cls(draw_examples(seed, count, mix), used_ids, drawn)

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
        attention (docs/nano.md); splitting the computation, not the batch, keeps every step's
        conversations and loss as they were and saves about a third of a step on two cores."""
        rows = sorted(rows, key=lambda r: len(self.ids[r]))
        cuts = [len(rows) * i // parts for i in range(parts + 1)]
        return [self.batch(rows[a:b], device) for a, b in zip(cuts, cuts[1:]) if b > a]


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
    losses = torch.nn.functional.cross_entropy(logits, targets, reduction="none")
    if token_weight is None:
        return losses.mean()
    weight = token_weight[targets]
    return (losses * weight).sum() / weight.sum()


def lr_at(step: int, recipe: Recipe) -> float:
    if step < recipe.warmup:
        return recipe.lr * (step + 1) / recipe.warmup
    progress = (step - recipe.warmup) / max(1, recipe.steps - recipe.warmup)
    floor = recipe.final_lr_fraction
    return recipe.lr * (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress)))


def new_model(recipe: Recipe, vocab_size: int, device):
    from transformers import GptOssForCausalLM

    torch.manual_seed(recipe.seed)
    config = build_config(recipe, vocab_size)
    config._attn_implementation = "eager"  # attention sinks need the eager kernel on CPU
    model = GptOssForCausalLM(config)
    if recipe.previous_token_margin:
        previous_token_head(model, recipe.previous_token_margin)
    if recipe.induction_margin:
        if not recipe.previous_token_margin or recipe.layers < 2 or recipe.heads < 2:
            raise ValueError("induction_margin needs previous_token_margin, two layers and two heads: the "
                             "induction head matches what layer 0's first two heads write")
        induction_head(model, recipe.induction_margin, recipe.previous_token_margin,
                       torch.Generator().manual_seed(recipe.seed))
    return model.to(device)


@torch.no_grad()
def previous_token_head(model, margin: float) -> None:
    """Make layer 0's first head attend to the previous token from the start, through the
    query's and key's biases alone: copying (an induction head in layer 1) needs such a head
    first, and poor seeds were the ones that formed copying late (docs/nano.md)."""
    positional_head(model, margin, head=0, back=1)


@torch.no_grad()
def positional_head(model, margin: float, head: int, back: int) -> None:
    """Make layer 0's `head` attend to the token `back` positions before its own.

    Per rotary pair with angle t, a key bias (s, 0) and a query bias s(cos bt, -sin bt) give
    every query at m and key at n the score s^2 cos((m - n - b) t): highest at n = m - b.
    s is chosen so that that token leads its neighbours by `margin` in the logits; the key
    bias does not depend on b, so heads that share keys can look back by different amounts."""
    inner = model.model
    attention = inner.layers[0].self_attn
    head_dim = attention.head_dim
    angles = inner.rotary_emb.inv_freq.float()
    half = head_dim // 2
    s = (margin / (logit_scale(model, attention) * float((1 - torch.cos(angles)).sum()))) ** 0.5
    query, key = torch.zeros(head_dim), torch.zeros(head_dim)
    key[:half] = s
    query[:half], query[half:] = s * torch.cos(back * angles), -s * torch.sin(back * angles)
    kv_head = head // (attention.config.num_attention_heads // attention.config.num_key_value_heads)
    attention.q_proj.bias[head * head_dim:(head + 1) * head_dim] = query
    attention.k_proj.bias[kv_head * head_dim:(kv_head + 1) * head_dim] = key


def logit_scale(model, attention) -> float:
    """What a query-key dot product is multiplied by in the attention logits: the head's scaling,
    and YaRN's attention scaling, which cos and sin carry on both the query and the key."""
    return attention.scaling * model.model.rotary_emb.attention_scaling ** 2


REACH = 1024  # positions an induction match spans: longer than the corpus's conversations
WRITE_SIZE = 4.0  # what layer 0's two heads write, in embedding norms: above the other heads' and the MLP's


@torch.no_grad()
def induction_head(model, margin: float, own_margin: float, generator: torch.Generator) -> None:
    """Make layer 1's first head an induction head from the start: at a token, attend to what
    followed that token earlier, the circuit that copying grows from.

    Layer 0's first two heads share keys and values; the first looks at the previous token
    (`previous_token_head`), the second at its own, and both write what the value reads of it,
    G x, into subspaces of their own, R and S, larger than the rest of the residual stream at
    initialisation. Layer 1's first head asks with S and keys on R, so that a key scores high
    where the token before it is the query's token. Only the rotary pairs that turn by under a
    radian over REACH positions carry the match, so it holds at any distance, and every other
    dimension of that head's queries and keys starts at zero. The scale is set on random token
    ids with a repeated stretch (no data): the matching keys lead the mean by `margin`."""
    inner = model.model
    first, second = inner.layers[0].self_attn, inner.layers[1].self_attn
    head_dim, hidden = first.head_dim, inner.config.hidden_size
    half = head_dim // 2
    slow = torch.nonzero(inner.rotary_emb.inv_freq.float() * REACH < 1).flatten()
    dims = torch.cat([slow, slow + half])
    r = len(dims)
    if not 0 < 3 * r <= hidden:
        raise ValueError(f"an induction head needs rotary pairs that turn by under a radian over {REACH} "
                         f"positions, three times as many dimensions as they have within the hidden size")
    basis, _ = torch.linalg.qr(torch.randn(hidden, 3 * r, generator=generator))
    previous, own, read = basis[:, :r], basis[:, r:2 * r], basis[:, 2 * r:].T
    positional_head(model, own_margin, head=1, back=0)
    write = WRITE_SIZE * float(inner.embed_tokens.weight.std()) * (hidden / r) ** 0.5  # |G x| is about r ** 0.5
    first.v_proj.weight[:r] = read
    first.v_proj.bias[:r] = 0
    first.o_proj.weight[:, :r] = write * previous
    first.o_proj.weight[:, head_dim:head_dim + r] = write * own
    for projection in (second.q_proj, second.k_proj):
        projection.weight[:head_dim] = 0
        projection.bias[:head_dim] = 0
    second.q_proj.weight[dims] = own.T
    second.k_proj.weight[dims] = previous.T
    length, lead, gap = 96, 64, 32  # random ids, a stretch, random ids, the stretch again
    stretch = torch.randint(0, inner.embed_tokens.num_embeddings, (length,), generator=generator)
    noise = torch.randint(0, inner.embed_tokens.num_embeddings, (lead + gap,), generator=generator)
    ids = torch.cat([noise[:lead], stretch, noise[lead:], stretch])[None]
    x = second_layer_input(model, ids)
    scores = second.q_proj(x)[:, :head_dim] @ second.k_proj(x)[:, :head_dim].T
    scores = scores * logit_scale(model, second)
    later = torch.arange(ids.shape[1] - length + 1, ids.shape[1])  # the repeat's tokens after its first
    matches = scores[later, later - length - gap + 1]  # ... and what followed them the first time
    causal = torch.ones_like(scores, dtype=torch.bool).tril()[later]
    gain = (margin / float(matches.mean() - scores[later][causal].mean())) ** 0.5
    second.q_proj.weight[dims] *= gain
    second.k_proj.weight[dims] *= gain


def second_layer_input(model, ids: torch.Tensor) -> torch.Tensor:
    hidden = model(ids.to(model.device), output_hidden_states=True).hidden_states[1][0]
    return model.model.layers[1].input_layernorm(hidden)


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
