"""`--induction-margin` starts layer 1's first head as an induction head: at a token that
appeared before, it attends to what followed it then (the checkpoint stays a standard
GptOssForCausalLM)."""

import pytest
import torch

from inference.nano.heads import new_model
from tiny_gptoss import tiny_recipe

VOCAB = 500
LENGTH = 40  # of the repeated stretch


def repeated_stretch(length: int = LENGTH, gap: int = 30) -> tuple[torch.Tensor, int]:
    """Random ids, then a stretch, more random ids and the stretch again; and the stretch's
    distance from its first to its second occurrence."""
    g = torch.Generator().manual_seed(3)
    stretch = torch.randint(0, VOCAB, (length,), generator=g)
    ids = torch.cat([torch.randint(0, VOCAB, (20,), generator=g), stretch,
                     torch.randint(0, VOCAB, (gap,), generator=g), stretch])
    return ids[None], length + gap


def on_what_followed(margin: float) -> torch.Tensor:
    """Layer 1's first head's weight, in the stretch's second occurrence, on the token that
    followed the same token in the first."""
    recipe = tiny_recipe(previous_token_margin=4.0, induction_margin=margin, hidden=64, heads=4,
                         kv_heads=2, head_dim=32)
    model = new_model(recipe, VOCAB, "cpu")
    ids, distance = repeated_stretch()
    with torch.no_grad():
        attention = model(ids, output_attentions=True).attentions[1][0, 0]
    rows = torch.arange(ids.shape[1] - LENGTH + 1, ids.shape[1])
    return attention[rows, rows - distance + 1]


def test_the_second_layer_starts_on_what_followed_the_same_token():
    weights = on_what_followed(8.0)
    assert weights.mean() > 0.3
    assert weights.mean() > 20 * on_what_followed(0.0).mean()


def test_an_induction_head_needs_the_previous_token_head():
    with pytest.raises(ValueError, match="previous_token_margin"):
        new_model(tiny_recipe(previous_token_margin=0.0, induction_margin=8.0), VOCAB, "cpu")
