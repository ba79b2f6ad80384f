"""Training computes each batch in parts of similar length, which must not change the step: the
same loss and gradients as the batch padded as one. And the experts' load-balancing loss is 1
for an even load, grows as the load concentrates, and reaches the router."""

import torch

from inference.nano.data import examples
from inference.nano.train import Corpus, balance_loss, batch_logits, cross_entropy, loss_on, new_model
from tests.tiny_gptoss import tiny_recipe


def test_a_batch_in_parts_gives_the_same_loss_and_gradients_as_the_whole_batch():
    corpus = Corpus(examples(seed=21, count=10))
    rows = [7, 2, 9, 0, 4, 5, 1]
    lengths = [len(corpus.ids[r]) for r in rows]
    assert max(lengths) > min(lengths) + 20  # the parts really pad less
    model = new_model(tiny_recipe(), len(corpus.used_ids), "cpu")

    def loss_and_gradients(loss):
        model.zero_grad()
        loss.backward()
        return loss.item(), [p.grad.clone() for p in model.parameters() if p.grad is not None]

    whole, whole_grads = loss_and_gradients(loss_on(model, *corpus.batch(rows, "cpu")))
    parts = corpus.batches(rows, "cpu", parts=3)
    assert [len(inputs) for inputs, _, _ in parts] == [2, 2, 3]
    split, split_grads = loss_and_gradients(cross_entropy(*batch_logits(model, parts)))
    assert abs(whole - split) < 1e-5
    for a, b in zip(whole_grads, split_grads):
        assert torch.allclose(a, b, atol=1e-6)


def decisions(picks: list[list[int]], logits: torch.Tensor) -> dict:
    return {0: [(logits, torch.tensor(picks))]}


def test_the_balance_loss_is_one_for_an_even_load_and_more_for_a_lopsided_one():
    even = balance_loss(decisions([[0, 1], [2, 3]], torch.zeros(2, 4)))
    assert torch.isclose(even, torch.tensor(1.0))
    lopsided_logits = torch.tensor([[3.0, 3.0, 0.0, 0.0]] * 2)
    lopsided = balance_loss(decisions([[0, 1], [0, 1]], lopsided_logits))
    assert lopsided > 1.8


def test_the_balance_loss_reaches_the_router():
    corpus = Corpus(examples(seed=22, count=4))
    model = new_model(tiny_recipe(experts=4, experts_per_token=2), len(corpus.used_ids), "cpu")
    routing = {}
    batch_logits(model, corpus.batches([0, 1, 2, 3], "cpu"), routing=routing)
    assert sorted(routing) == [0, 1] and all(len(parts) == 4 for parts in routing.values())
    balance_loss(routing).backward()
    for layer in model.model.layers:
        assert layer.mlp.router.weight.grad.abs().sum() > 0
