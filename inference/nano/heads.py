"""A new gpt-oss-nano model for a recipe, and the starting values of three of its attention heads.

Copying from the prompt (operands, argument values, codes, tool names) is built on an induction
circuit: a head in layer 0 that looks at the previous token, and a head in layer 1 that, at a
token, attends to what followed the same token earlier. Runs that had to find that circuit by
themselves found it late or not at all, and that decided how good a run was. So layer 0's first
head starts on the previous token, its second on its own token, and layer 1's first head starts
as an induction head. The weights stay a standard `GptOssForCausalLM`; only their starting
values differ, and they train like any other.
"""

from __future__ import annotations

import torch

from .recipe import Recipe, build_config


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
    first, and poor seeds were the ones that formed copying late."""
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

