"""A checkpoint grown to more layers or wider experts, computing exactly what it did
(`python -m inference.nano grow DIR --layers 3 --out NEW`), for fine-tuning with more capacity.

At 1.3 M parameters each new skill a fine-tune teaches costs some of what the model knew, and a
from-scratch run of a larger model costs the whole training time again. A grown model keeps
every trained weight; what it adds starts with a zero output — a new layer's attention output
projection and its experts' down projection, a new expert unit's row of the down projection — so
its first forward pass is the old model's. Gradients reach those outputs at once (their inputs are
not zero), and through them the rest of the new weights.
"""

from __future__ import annotations

import torch

from .checkpoint import CheckpointError, load_compact, read_meta, save_compact


def layer_type(index: int) -> str:
    """gpt-oss alternates sliding-window and full attention, even layers sliding; vLLM assumes
    that order rather than reading the config's, so a new layer keeps it too."""
    return "sliding_attention" if index % 2 == 0 else "full_attention"


@torch.no_grad()
def grown(model, layers: int, expert_hidden: int):
    """`model` (compact, as `load_compact` returns it) with `layers` layers and experts
    `expert_hidden` wide, neither fewer than it has."""
    from transformers import GptOssForCausalLM

    old = model.config
    if layers < old.num_hidden_layers or expert_hidden < old.intermediate_size:
        raise CheckpointError(f"a checkpoint only grows: it has {old.num_hidden_layers} layers and experts "
                              f"{old.intermediate_size} wide")
    config = type(old)(**{**old.to_dict(), "num_hidden_layers": layers, "intermediate_size": expert_hidden,
                          "layer_types": [*old.layer_types,
                                          *map(layer_type, range(old.num_hidden_layers, layers))]})
    config._attn_implementation = old._attn_implementation
    torch.manual_seed(layers * 1000 + expert_hidden)  # the new weights' random start, the same every time
    bigger = GptOssForCausalLM(config)
    state = bigger.state_dict()
    for name, value in model.state_dict().items():
        # Old weights fill the leading part of each dimension. gate_up_proj interleaves each unit's
        # gate and up columns (unit j at 2j, 2j + 1), so old unit j keeps its place in a wider one.
        state[name][tuple(slice(0, n) for n in value.shape)] = value
    for i in range(layers):
        prefix = f"model.layers.{i}."
        if i >= old.num_hidden_layers:
            for name in ("self_attn.o_proj.weight", "self_attn.o_proj.bias", "mlp.experts.down_proj_bias"):
                state[prefix + name].zero_()
        state[prefix + "mlp.experts.down_proj"][:, 0 if i >= old.num_hidden_layers else old.intermediate_size:] = 0
    bigger.load_state_dict(state)
    bigger.tie_weights()
    return bigger


def grow(source, out, layers: int, expert_hidden: int, command: str = ""):
    """Write the grown checkpoint of `source` to `out`; its record keeps the source's."""
    model, used = load_compact(source)
    info = {"command": command, "grown": {"layers": layers, "expert_hidden": expert_hidden},
            "grown_from": read_meta(source).get("info", {})}
    return save_compact(grown(model, layers, expert_hidden), used, out, info)
