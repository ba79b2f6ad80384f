"""A faster training forward pass for gpt-oss-nano: the same math as transformers'
`GptOssModel`, on the same parameters, built from fused kernels.

transformers' eager GptOss path (the only one with attention sinks on CPU) materialises every
attention matrix several times and routes experts with a scatter per expert; on two CPU cores
that is most of a training step. Here:
- attention runs in `scaled_dot_product_attention`; the sink becomes one extra key that every
  query sees, whose logit is the head's sink and whose value is zero (q gets a constant 1 in an
  extra dimension, that key gets sink / scale there) — exactly the eager softmax over
  [scores, sink] with the sink column dropped;
- the experts see their tokens gathered in one go, sorted by expert, and scatter back once
  (transformers searches and scatters per expert).
Padding is on the right and attention is causal, so real tokens never see padding.
`tests/test_nano_training.py` checks it against transformers' own forward, values and gradients.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from transformers.models.gpt_oss.modeling_gpt_oss import apply_rotary_pos_emb, repeat_kv


def attention_masks(config, length: int, device) -> dict[str, torch.Tensor]:
    """Boolean (query, key) masks per layer type, with an always-visible last column (the sink)."""
    q = torch.arange(length, device=device)[:, None]
    k = torch.arange(length, device=device)[None, :]
    causal = k <= q
    sink = torch.ones(length, 1, dtype=torch.bool, device=device)
    masks = {"full_attention": torch.cat([causal, sink], dim=1)}
    if config.sliding_window:
        window = causal & (k > q - config.sliding_window)
        masks["sliding_attention"] = torch.cat([window, sink], dim=1)
    return masks


def attention(attn, hidden: torch.Tensor, cos, sin, mask: torch.Tensor, queries_from: int = 0) -> torch.Tensor:
    """The attention block's output at positions `queries_from` onwards (every key is seen)."""
    batch, length, _ = hidden.shape
    dim = attn.head_dim
    query = attn.q_proj(hidden).view(batch, length, -1, dim).transpose(1, 2)
    key = attn.k_proj(hidden).view(batch, length, -1, dim).transpose(1, 2)
    value = attn.v_proj(hidden).view(batch, length, -1, dim).transpose(1, 2)
    query, key = apply_rotary_pos_emb(query, key, cos, sin)
    query, mask = query[:, :, queries_from:], mask[queries_from:]
    key = repeat_kv(key, attn.num_key_value_groups)
    value = repeat_kv(value, attn.num_key_value_groups)
    heads = query.shape[1]
    query = F.pad(query, (0, 1), value=1.0)
    sink_key = F.pad((attn.sinks / attn.scaling).view(1, heads, 1, 1).expand(batch, heads, 1, 1), (dim, 0))
    key = torch.cat([F.pad(key, (0, 1)), sink_key], dim=2)
    # Values get the extra dimension too (always 0): the CPU flash kernel wants one head size.
    value = F.pad(value, (0, 1, 0, 1))
    out = F.scaled_dot_product_attention(query, key, value, attn_mask=mask, scale=attn.scaling)
    return attn.o_proj(out[..., :dim].transpose(1, 2).reshape(batch, length - queries_from, -1))


def experts(mlp, hidden: torch.Tensor) -> torch.Tensor:
    """The MoE block."""
    shape = hidden.shape
    flat = hidden.reshape(-1, shape[-1])
    _, scores, chosen = mlp.router(flat)
    e = mlp.experts
    # Each (token, expert) pair once, grouped by expert: one gather, a matmul pair per expert,
    # one weighted scatter back.
    order = chosen.reshape(-1).argsort(stable=True)
    tokens = order // chosen.shape[1]
    counts = torch.bincount(chosen.reshape(-1), minlength=e.num_experts).tolist()
    outputs = [e._apply_gate(x @ e.gate_up_proj[i] + e.gate_up_proj_bias[i]) @ e.down_proj[i]
               + e.down_proj_bias[i] for i, x in enumerate(flat[tokens].split(counts))]
    weighted = torch.cat(outputs) * scores.reshape(-1)[order, None]
    return torch.zeros_like(flat).index_add(0, tokens, weighted).reshape(shape)


def hidden_at(model, input_ids: torch.Tensor, where: torch.Tensor, embedding=None) -> torch.Tensor:
    """`model.model(input_ids=...).last_hidden_state[where]` for a right-padded batch. The last
    layer runs only from the first column where `where` (the positions the loss uses) holds, and
    its experts only at `where`: nothing else needs them (its keys and values still cover every
    position). Most of a conversation is prompt, so this saves most of the last layer's attention.
    `embedding`, if given, replaces the embedding matrix (training's composed rows)."""
    inner, config = model.model, model.config
    hidden = inner.embed_tokens(input_ids) if embedding is None else F.embedding(input_ids, embedding)
    positions = torch.arange(input_ids.shape[1], device=input_ids.device)[None]
    cos, sin = inner.rotary_emb(hidden, positions)
    masks = attention_masks(config, input_ids.shape[1], input_ids.device)
    last = len(inner.layers) - 1
    first = int(where.any(0).int().argmax())
    for i, (layer, kind) in enumerate(zip(inner.layers, config.layer_types)):
        start = first if i == last else 0
        hidden = hidden[:, start:] + attention(layer.self_attn, layer.input_layernorm(hidden), cos, sin,
                                               masks[kind], start)
        if i == last:
            hidden = hidden[where[:, start:]]
        hidden = hidden + experts(layer.mlp, layer.post_attention_layernorm(hidden))
    return inner.norm(hidden)
