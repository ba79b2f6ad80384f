"""Plain factories of tiny GptOss models: random GptOssForCausalLM models (the real transformers
code path — MoE routing, attention sinks, alternating sliding window, YaRN RoPE — at test size)
and the nano training recipe at test size."""

import torch
from transformers import GptOssConfig, GptOssForCausalLM

FULL_VOCAB = 201088  # o200k_harmony, so that real harmony prompts fit


def tiny_gptoss(vocab_size=FULL_VOCAB, sliding_window=4, seed=0, tie_word_embeddings=True):
    torch.manual_seed(seed)
    config = GptOssConfig(
        num_hidden_layers=2, hidden_size=64, intermediate_size=64, head_dim=16,
        num_attention_heads=4, num_key_value_heads=2, num_local_experts=4, num_experts_per_tok=2,
        vocab_size=vocab_size, sliding_window=sliding_window, tie_word_embeddings=tie_word_embeddings,
        max_position_embeddings=4096,
        rope_parameters={"rope_type": "yarn", "factor": 32.0, "beta_fast": 32.0, "beta_slow": 1.0,
                         "truncate": False, "original_max_position_embeddings": 128},
    )
    return GptOssForCausalLM(config).eval()


def tiny_recipe(**changes):
    """gpt-oss-nano's training recipe at test size: a 32-wide model, a few steps of batch 4."""
    from inference.nano.recipe import Recipe

    base = dict(steps=6, batch=4, lr=3e-3, warmup=2, hidden=32, heads=2, kv_heads=1, head_dim=16,
                experts=2, experts_per_token=1, expert_hidden=32)
    return Recipe(**{**base, **changes})
