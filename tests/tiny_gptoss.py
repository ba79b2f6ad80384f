"""A plain factory of tiny random GptOssForCausalLM models: the real transformers code path
(MoE routing, attention sinks, alternating sliding window, YaRN RoPE) at test size."""

import torch
from transformers import GptOssConfig, GptOssForCausalLM

FULL_VOCAB = 201088  # o200k_harmony, so that real harmony prompts fit


def tiny_gptoss(vocab_size=FULL_VOCAB, sliding_window=4, seed=0):
    torch.manual_seed(seed)
    config = GptOssConfig(
        num_hidden_layers=2, hidden_size=64, intermediate_size=64, head_dim=16,
        num_attention_heads=4, num_key_value_heads=2, num_local_experts=4, num_experts_per_tok=2,
        vocab_size=vocab_size, sliding_window=sliding_window, tie_word_embeddings=True,
        max_position_embeddings=4096,
        rope_parameters={"rope_type": "yarn", "factor": 32.0, "beta_fast": 32.0, "beta_slow": 1.0,
                         "truncate": False, "original_max_position_embeddings": 128},
    )
    return GptOssForCausalLM(config).eval()
