"""MXFP4 as the published gpt-oss checkpoints store their experts, at test size: a quantiser
(round-to-nearest-even FP4 E2M1, one power-of-two E8M0 scale per 32 values), its exact inverse,
and a checkpoint folder in gpt-oss-20b's on-disk layout.

On disk (gpt-oss-20b: E=32 experts, H=2880, I=2880), each layer's experts are
    mlp.experts.gate_up_proj_blocks  uint8 [E, 2I, H/32, 16]   mlp.experts.gate_up_proj_scales  uint8 [E, 2I, H/32]
    mlp.experts.down_proj_blocks     uint8 [E, H, I/32, 16]    mlp.experts.down_proj_scales     uint8 [E, H, I/32]
    mlp.experts.gate_up_proj_bias    bf16  [E, 2I]             mlp.experts.down_proj_bias       bf16  [E, H]
i.e. the transpose of transformers' [E, in, out] parameters, quantised along `in` in blocks of
32 values: byte j of a block holds value 2j in its low nibble and value 2j+1 in its high one,
and a scale byte s means 2**(s - 127). Everything else is bfloat16, the output head untied.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors.torch import save_file
from transformers import GptOssForCausalLM

BLOCK = 32
E8M0_BIAS = 127
# the value of each 4-bit code: bit 3 is the sign, bits 2-1 the exponent, bit 0 the mantissa
FP4_E2M1 = torch.tensor([0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0,
                         -0.0, -0.5, -1.0, -1.5, -2.0, -3.0, -4.0, -6.0])
FP4_MAX = 6.0
EXPERT_WEIGHTS = ("gate_up_proj", "down_proj")
# gpt-oss-20b's config.json says exactly this
QUANTIZATION_CONFIG = {
    "modules_to_not_convert": ["model.layers.*.self_attn", "model.layers.*.mlp.router",
                               "model.embed_tokens", "lm_head"],
    "quant_method": "mxfp4",
}


def quantise(weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """`weight` [..., K] (K a multiple of 32) as blocks uint8 [..., K/32, 16] and scales uint8
    [..., K/32]. The scale is the smallest power of two that brings the block's largest
    magnitude within FP4's ±6 (so nothing is clipped; triton_kernels' downcast_to_mxfp rounds
    its scales up the same way); each value then goes to the nearest FP4 value, ties to the
    even code (round-to-nearest-even)."""
    x = weight.float().reshape(*weight.shape[:-1], -1, BLOCK)
    amax = x.abs().amax(dim=-1, keepdim=True)
    exponent = torch.ceil(torch.log2(amax / FP4_MAX)).nan_to_num(neginf=-E8M0_BIAS)
    exponent = exponent.clamp(-E8M0_BIAS, E8M0_BIAS)
    scaled = x / torch.exp2(exponent)
    distance = (scaled.unsqueeze(-1) - FP4_E2M1).abs()
    nearest = distance == distance.min(dim=-1, keepdim=True).values
    even = torch.arange(16) % 2 == 0
    codes = (nearest * (1 + even)).argmax(dim=-1).to(torch.uint8)  # an even code where tied
    blocks = codes[..., 0::2] | (codes[..., 1::2] << 4)
    return blocks, (exponent.squeeze(-1) + E8M0_BIAS).to(torch.uint8)


def dequantise(blocks: torch.Tensor, scales: torch.Tensor) -> torch.Tensor:
    """The exact values `blocks` and `scales` stand for, as float32 [..., K]."""
    codes = torch.stack([blocks & 0x0F, blocks >> 4], dim=-1).flatten(-2).long()
    values = FP4_E2M1[codes] * torch.exp2(scales.float() - E8M0_BIAS).unsqueeze(-1)
    return values.flatten(-2)


def expert_tensors(name: str, weight: torch.Tensor) -> dict[str, torch.Tensor]:
    """An experts parameter [E, in, out] as its on-disk `_blocks` and `_scales`."""
    blocks, scales = quantise(weight.transpose(1, 2))
    return {f"{name}_blocks": blocks.contiguous(), f"{name}_scales": scales.contiguous()}


def is_expert_weight(name: str) -> bool:
    return name.rsplit(".", 1)[-1] in EXPERT_WEIGHTS and ".mlp.experts." in name


def as_dequantised(model: GptOssForCausalLM) -> GptOssForCausalLM:
    """A bfloat16 copy of `model` whose expert weights are exactly the values its MXFP4
    checkpoint holds (FP4 values times powers of two are exact in bfloat16)."""
    copy = GptOssForCausalLM(model.config).to(torch.bfloat16).eval()
    state = {}
    for name, tensor in model.state_dict().items():
        if is_expert_weight(name):
            tensor = dequantise(*quantise(tensor.transpose(1, 2))).transpose(1, 2)
        state[name] = tensor.to(torch.bfloat16)
    copy.load_state_dict(state)
    return copy


def write_mxfp4_folder(model: GptOssForCausalLM, folder: Path, shards: int = 2) -> Path:
    """`model` as gpt-oss-20b lays itself out on disk: config.json with its quantization_config
    and `torch_dtype`, expert weights as MXFP4 blocks and scales, everything else bfloat16, in
    `shards` safetensors files with a model.safetensors.index.json."""
    assert not model.config.tie_word_embeddings, "gpt-oss checkpoints store lm_head.weight"
    folder.mkdir(parents=True)
    tensors = {}
    for name, tensor in model.state_dict().items():
        if is_expert_weight(name):
            tensors.update(expert_tensors(name, tensor))
        else:
            tensors[name] = tensor.to(torch.bfloat16).contiguous()
    names = sorted(tensors)
    weight_map = {}
    for i in range(shards):
        file = f"model-{i:05d}-of-{shards:05d}.safetensors"
        part = names[i::shards]
        save_file({n: tensors[n] for n in part}, folder / file, metadata={"format": "pt"})
        weight_map.update(dict.fromkeys(part, file))
    total = sum(t.numel() * t.element_size() for t in tensors.values())
    (folder / "model.safetensors.index.json").write_text(
        json.dumps({"metadata": {"total_size": total}, "weight_map": weight_map}, indent=2))
    config = model.config.to_dict()
    config.pop("dtype", None)
    config.update(torch_dtype="bfloat16", quantization_config=QUANTIZATION_CONFIG,
                  architectures=["GptOssForCausalLM"])
    (folder / "config.json").write_text(json.dumps(config, indent=2))
    return folder
