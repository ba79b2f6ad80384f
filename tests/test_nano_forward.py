"""The training forward pass (`inference.nano.forward`) computes what transformers' own
GptOss forward computes — hidden states and gradients — on right-padded batches, with
attention sinks, a sliding window shorter than the sequence and top-k experts in play."""

import torch

from inference.nano import forward
from tests.tiny_gptoss import tiny_gptoss


def padded_batch(lengths, vocab, seed=0):
    generator = torch.Generator().manual_seed(seed)
    ids = torch.zeros(len(lengths), max(lengths), dtype=torch.long)
    real = torch.zeros_like(ids, dtype=torch.bool)
    for row, length in enumerate(lengths):
        ids[row, :length] = torch.randint(0, vocab, (length,), generator=generator)
        real[row, :length] = True
    return ids, real


def lively_model():
    """A tiny GptOss whose sinks and biases are far from their zero-ish initial values."""
    model = tiny_gptoss(vocab_size=300, sliding_window=5).train()
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if "sinks" in name or "bias" in name:
                parameter.normal_(0, 0.7)
    return model


def test_hidden_states_match_transformers_at_every_real_position():
    model = lively_model()
    ids, real = padded_batch([23, 9, 17], vocab=300)
    expected = model.model(input_ids=ids).last_hidden_state[real]
    assert torch.allclose(forward.hidden_at(model, ids, real), expected, atol=1e-5)


def test_gradients_match_transformers():
    model = lively_model()
    ids, real = padded_batch([19, 12], vocab=300, seed=1)
    target = torch.randn(int(real.sum()), model.config.hidden_size)

    def gradients(hidden):
        model.zero_grad()
        (hidden * target).sum().backward()
        return {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}

    ours = gradients(forward.hidden_at(model, ids, real))
    theirs = gradients(model.model(input_ids=ids).last_hidden_state[real])
    assert ours.keys() == theirs.keys()
    assert any("sinks" in name for name in ours)
    for name, grad in theirs.items():
        assert torch.allclose(ours[name], grad, atol=1e-4, rtol=1e-3), name


def test_hidden_states_and_gradients_match_where_only_the_ends_of_the_rows_are_wanted():
    """The last layer's queries start at the first wanted column: the rest must not change."""
    model = lively_model()
    ids, real = padded_batch([21, 14, 18], vocab=300, seed=2)
    wanted = real.clone()
    wanted[:, :9] = False
    wanted[0, 15] = False  # a gap, as a tool result leaves between trained messages
    target = torch.randn(int(wanted.sum()), model.config.hidden_size)

    def hidden_and_gradients(hidden):
        model.zero_grad()
        (hidden * target).sum().backward()
        return hidden.detach(), {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}

    ours, our_grads = hidden_and_gradients(forward.hidden_at(model, ids, wanted))
    theirs, their_grads = hidden_and_gradients(model.model(input_ids=ids).last_hidden_state[wanted])
    assert torch.allclose(ours, theirs, atol=1e-5)
    for name, grad in their_grads.items():
        assert torch.allclose(our_grads[name], grad, atol=1e-4, rtol=1e-3), name
