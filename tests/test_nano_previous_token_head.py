"""`--previous-token-margin` starts layer 0's first head as a previous-token head, through the
query's and key's biases alone (the checkpoint stays a standard GptOssForCausalLM)."""

import torch

from inference.nano.heads import new_model
from tiny_gptoss import tiny_recipe


def first_head_attention(margin: float, length: int = 40) -> torch.Tensor:
    model = new_model(tiny_recipe(previous_token_margin=margin, induction_margin=0.0, hidden=64, heads=4,
                                  kv_heads=2), 500, "cpu")
    ids = torch.randint(0, 500, (1, length), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        return model(ids, output_attentions=True).attentions[0][0, 0]


def on_previous_token(attention: torch.Tensor) -> torch.Tensor:
    rows = torch.arange(1, attention.shape[0])
    return attention[rows, rows - 1]


def test_the_first_head_starts_on_the_previous_token():
    assert on_previous_token(first_head_attention(4.0)).min() > 0.5


def test_without_a_margin_attention_starts_spread():
    assert on_previous_token(first_head_attention(0.0))[5:].max() < 0.5
