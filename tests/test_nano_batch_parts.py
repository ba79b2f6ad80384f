"""Training computes each batch in parts of similar length, which must not change the step: the
same loss and gradients as the batch padded as one."""

import torch

from inference.nano.corpus import Corpus, examples
from inference.nano.heads import new_model
from inference.nano.loss import batch_logits, cross_entropy, loss_on
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
