"""A few training steps of gpt-oss-nano lower the loss, and the compact checkpoint they write
loads back as a full-vocabulary GptOssForCausalLM with the same predictions."""

import torch

from inference.nano import checkpoint
from inference.nano.corpus import Corpus, examples
from inference.nano.heads import new_model
from inference.nano.loss import loss_on, restricted_logits
from inference.nano.train import train
from tests.tiny_gptoss import tiny_recipe


def test_a_few_steps_lower_the_loss(tmp_path):
    torch.manual_seed(0)
    corpus = Corpus(examples(seed=11, count=8))
    recipe = tiny_recipe(steps=12)
    fixed = corpus.batch(list(range(8)), "cpu")
    before = loss_on(new_model(recipe, len(corpus.used_ids), "cpu"), *fixed).item()
    model, _ = train(tmp_path / "ckpt", recipe, corpus=corpus, log=lambda line: None)
    with torch.no_grad():
        after = loss_on(model, *fixed).item()
    assert after < before - 0.5


def test_compact_checkpoint_expands_to_the_same_distribution(tmp_path):
    corpus = Corpus(examples(seed=12, count=4))
    recipe = tiny_recipe(steps=2)
    model, _ = train(tmp_path / "ckpt", recipe, corpus=corpus, log=lambda line: None)
    full = checkpoint.load_model(tmp_path / "ckpt")
    assert full.config.vocab_size == checkpoint.FULL_VOCAB
    used = torch.tensor(corpus.used_ids)
    inputs = torch.tensor([corpus.used_ids[i] for i in corpus.ids[0][:40]])[None]
    with torch.no_grad():
        full_probs = torch.softmax(full(input_ids=inputs).logits[0, -1].double(), -1)
        # the compact model in bf16, as stored: the restricted softmax must match the full one
        model = model.to(torch.bfloat16).float()
        hidden = model.model(input_ids=torch.tensor(corpus.ids[0][:40], dtype=torch.long)[None]).last_hidden_state
        compact_probs = torch.softmax(restricted_logits(model, hidden[0, -1]).double(), -1)
    assert torch.allclose(full_probs[used], compact_probs[:-1], atol=1e-4)
    assert abs(full_probs.sum() - 1) < 1e-4
    others = full_probs.sum() - full_probs[used].sum()
    assert abs(others - compact_probs[-1]) < 1e-4
