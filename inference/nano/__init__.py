"""gpt-oss-nano: the embedded default model.

A tiny transformers `GptOssForCausalLM` (MoE, attention sinks, alternating sliding window,
YaRN RoPE) over the real o200k_harmony token ids, trained here on synthetic harmony
conversations (`generator`, rendered by `corpus`), with a restricted softmax (`loss`, `train`),
and shipped as a compact checkpoint that expands to the full vocabulary at load (`checkpoint`).
See docs/nano.md.
"""
