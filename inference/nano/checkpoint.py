"""The compact checkpoint format of gpt-oss-nano, and loading it as a standard model.

The model only ever sees and emits the K token ids of its training corpus; every other row of
the (tied) embedding is zero. On disk we keep only the K used rows, in bf16, plus the id of
each row (`weights.safetensors`) and the model config (`nano.json`). Loading scatters the rows
into a zero matrix of the full o200k_harmony vocabulary, so the result is an ordinary
`GptOssForCausalLM` that any transformers code can run. Because the other rows are zero their
logits are exactly 0, which is what training's restricted softmax assumed (one constant logit
log(V - K) standing for all of them).
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

DEFAULT_PATH = Path(__file__).resolve().parent / "checkpoint"
FORMAT = "gpt-oss-nano/compact-v1"
EMBED = "model.embed_tokens.weight"
TIED = "lm_head.weight"


class CheckpointError(ValueError):
    """The folder is not a usable compact checkpoint; the message says why."""


def config_class():
    from transformers import GptOssConfig

    return GptOssConfig


def save_compact(model, used_ids, path, info: dict | None = None) -> Path:
    """Write `model` to `path` as a compact checkpoint.

    `model` is either compact (its vocabulary is exactly `used_ids`, row i holding token
    used_ids[i], as in training) or full-size (rows indexed by token id). `info` (recipe,
    timings) is stored in nano.json for the record.
    """
    from safetensors.torch import save_file

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    used = torch.as_tensor(sorted(used_ids) if not isinstance(used_ids, torch.Tensor) else used_ids,
                           dtype=torch.int64)
    if len(set(used.tolist())) != len(used):
        raise CheckpointError("used_ids must be distinct")
    state = {k: v.detach() for k, v in model.state_dict().items() if k != TIED}
    embed = state[EMBED]
    rows = embed if embed.shape[0] == len(used) else embed[used]
    state[EMBED] = rows
    tensors = {k: v.to(device="cpu", dtype=torch.bfloat16).contiguous() for k, v in state.items()}
    tensors["used_ids"] = used.to(torch.int32)
    save_file(tensors, str(path / "weights.safetensors"))
    config = model.config.to_dict()
    config["vocab_size"] = FULL_VOCAB
    config["tie_word_embeddings"] = True
    meta = {"format": FORMAT, "name": "gpt-oss-nano", "used_tokens": len(used),
            "config": {k: v for k, v in config.items() if k in CONFIG_KEYS}, "info": info or {}}
    (path / "nano.json").write_text(json.dumps(meta, indent=1) + "\n")
    return path


# o200k_harmony's vocabulary size as gpt-oss declares it (ids up to 201087 are valid).
FULL_VOCAB = 201088
CONFIG_KEYS = ("num_hidden_layers", "num_local_experts", "vocab_size", "hidden_size",
               "intermediate_size", "head_dim", "num_attention_heads", "num_key_value_heads",
               "sliding_window", "tie_word_embeddings", "max_position_embeddings", "rms_norm_eps",
               "rope_parameters", "num_experts_per_tok", "layer_types", "attention_bias",
               "swiglu_alpha", "swiglu_limit", "router_aux_loss_coef", "initializer_range")


def read_meta(path) -> dict:
    path = Path(path)
    try:
        meta = json.loads((path / "nano.json").read_text())
    except FileNotFoundError:
        raise CheckpointError(f"{path} holds no nano.json: not a compact gpt-oss-nano checkpoint") from None
    if meta.get("format") != FORMAT:
        raise CheckpointError(f"{path}/nano.json has format {meta.get('format')!r}, expected {FORMAT!r}")
    return meta


def load_model(path=DEFAULT_PATH, dtype=torch.float32):
    """A standard GptOssForCausalLM over the full vocabulary, in eval mode."""
    from safetensors.torch import load_file
    from transformers import GptOssForCausalLM

    path = Path(path)
    meta = read_meta(path)
    config = config_class()(**meta["config"])
    config.vocab_size = FULL_VOCAB
    tensors = load_file(str(path / "weights.safetensors"))
    used = tensors.pop("used_ids").to(torch.int64)
    rows = tensors[EMBED]
    if rows.shape[0] != len(used) or int(used.max()) >= config.vocab_size:
        raise CheckpointError(f"{path}: embedding rows and used_ids disagree")
    full = torch.zeros(config.vocab_size, rows.shape[1], dtype=dtype)
    full[used] = rows.to(dtype)
    tensors[EMBED] = full
    with torch.device("meta"):
        model = GptOssForCausalLM(config)
    model.load_state_dict({k: v.to(dtype) for k, v in tensors.items()}, strict=False, assign=True)
    model.tie_weights()
    missing = [k for k, v in model.state_dict().items() if v.is_meta]
    if missing:
        raise CheckpointError(f"{path}: weights missing for {', '.join(missing[:5])}")
    model.model.rotary_emb = type(model.model.rotary_emb)(config=config)  # its buffers are not saved
    if any(b.is_meta for b in model.buffers()):
        raise CheckpointError(f"{path}: a buffer of the model was not initialised")
    return model.eval()


def load_compact(path):
    """The checkpoint as training holds it: a model over only its K used ids (row i is token
    used_ids[i]), float32, plus used_ids. Fine-tuning starts from this."""
    from safetensors.torch import load_file
    from transformers import GptOssForCausalLM

    meta = read_meta(path)
    tensors = load_file(str(Path(path) / "weights.safetensors"))
    used = tensors.pop("used_ids").to(torch.int64).tolist()
    config = config_class()(**meta["config"])
    config.vocab_size = len(used)
    config._attn_implementation = "eager"
    model = GptOssForCausalLM(config)
    model.load_state_dict({k: v.float() for k, v in tensors.items()}, strict=False)
    model.tie_weights()
    return model, used


@torch.no_grad()
def widened(model, used_ids: list[int], wider: list[int]):
    """The compact model over `wider` ids (a superset of `used_ids`, sorted): the known rows
    kept, a new token's row the mean of the known ones plus noise of their spread, so that it
    starts as an ordinary, unremarkable token (a zero row would start at logit 0, far above the
    trained rows' typical logits for a token never seen)."""
    from transformers import GptOssForCausalLM

    old = model.model.embed_tokens.weight
    position = {t: i for i, t in enumerate(used_ids)}
    generator = torch.Generator().manual_seed(len(wider))
    rows = old.mean(0) + old.std(0) * torch.randn(len(wider), old.shape[1], generator=generator)
    kept = torch.tensor([i for i, t in enumerate(wider) if t in position])
    rows[kept] = old[torch.tensor([position[wider[i]] for i in kept.tolist()])]
    config = model.config
    config.vocab_size = len(wider)
    grown = GptOssForCausalLM(config)
    state = {k: v for k, v in model.state_dict().items() if k not in (EMBED, TIED)}
    grown.load_state_dict({**state, EMBED: rows}, strict=False)
    grown.tie_weights()
    return grown
