"""Training gpt-oss-nano: steps lower the loss; a batch computed in parts is the batch; the
training forward pass computes what transformers' own GptOss forward computes; three heads start
as a previous-token head and an induction head; letter codes' rows are built from letter vectors
and saved as plain rows."""

import pytest
import torch

from inference.harmony import decode, encode
from inference.nano import checkpoint, forward
from inference.nano.__main__ import main
from inference.nano.corpus import Corpus, examples, render
from inference.nano.generator import Generator
from inference.nano.heads import new_model
from inference.nano.letter_rows import ComposedRows, letter_pair_rows
from inference.nano.loss import batch_logits, cross_entropy, loss_on
from inference.nano.problems import Mix
from inference.nano.recipe import Recipe
from inference.nano.train import train
from tests.tiny_gptoss import tiny_gptoss, tiny_recipe

VOCAB = 500  # of the head tests' random ids
LENGTH = 40  # of the induction test's repeated stretch


# -- steps -------------------------------------------------------------------------------------


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


# -- the training forward pass -----------------------------------------------------------------
# Attention sinks, a sliding window shorter than the sequence and top-k experts in play, on
# right-padded batches: hidden states and gradients as transformers computes them.


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


# -- the heads a new model starts with ---------------------------------------------------------
# Standard GptOssForCausalLM weights; only their starting values differ.


def first_head_attention(margin: float, length: int = 40) -> torch.Tensor:
    model = new_model(tiny_recipe(previous_token_margin=margin, induction_margin=0.0, hidden=64, heads=4,
                                  kv_heads=2), VOCAB, "cpu")
    ids = torch.randint(0, VOCAB, (1, length), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        return model(ids, output_attentions=True).attentions[0][0, 0]


def on_previous_token(attention: torch.Tensor) -> torch.Tensor:
    rows = torch.arange(1, attention.shape[0])
    return attention[rows, rows - 1]


def test_the_first_head_starts_on_the_previous_token():
    assert on_previous_token(first_head_attention(4.0)).min() > 0.5


def test_without_a_margin_attention_starts_spread():
    assert on_previous_token(first_head_attention(0.0))[5:].max() < 0.5


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


# -- letter codes' rows ------------------------------------------------------------------------
# With `compose_codes`, every pair's row is distinct, its spaced and bare forms differ by one
# shared vector, and what is saved is a standard checkpoint that a further run resumes exactly.


def code_corpus() -> Corpus:
    gen = Generator(seed=34, mix=Mix(code_rate=1.0))
    return Corpus([render(gen.problem("function")) for _ in range(12)])


def code_recipe(**changes) -> Recipe:
    return tiny_recipe(**{"compose_codes": True, "compose_singles": False, **changes})


def test_pair_rows_are_found_bare_and_spaced_with_their_letters():
    gx, spaced_gx = encode("GX")[0], encode(" GX")[0]
    used = sorted({gx, spaced_gx, encode(" order")[0], encode("7")[0]})
    rows = letter_pair_rows(used)
    assert sorted(used[r] for r in rows["rows"]) == sorted([gx, spaced_gx])
    for row, first, second, spaced in zip(*rows.values()):
        assert decode([used[row]]) == (" " if spaced else "") + chr(65 + first) + chr(65 + second)


def spaced_minus_bare(weight: torch.Tensor, used: list[int], singles: bool = False) -> torch.Tensor:
    """` XY` row minus `XY` row, for every pair (and single letter) that the corpus has in both forms."""
    rows = letter_pair_rows(used, singles)
    bare = {(a, b): row for row, a, b, spaced in zip(*rows.values()) if not spaced}
    return torch.stack([weight[row] - weight[bare[a, b]]
                        for row, a, b, spaced in zip(*rows.values()) if spaced and (a, b) in bare])


def test_single_letters_of_codes_are_found_only_when_asked():
    k, spaced_k, q, gx = (encode(text)[0] for text in ("K", " K", "Q", "GX"))
    used = sorted({k, spaced_k, q, gx, encode(" order")[0], encode(" I")[0]})
    assert [used[r] for r in letter_pair_rows(used)["rows"]] == [gx]
    rows = letter_pair_rows(used, singles=True)
    assert sorted(used[r] for r in rows["rows"]) == sorted([k, spaced_k, q, gx])
    for row, first, second, spaced in zip(*rows.values()):
        letters = decode([used[row]]).strip()
        assert letters[0] == chr(65 + first) and (second == -1) == (len(letters) == 1)


def test_composed_single_letters_share_the_space_vector_with_pairs(tmp_path):
    corpus = code_corpus()
    train(tmp_path / "ckpt", code_recipe(compose_singles=True), corpus=corpus, log=lambda line: None)
    model, used = checkpoint.load_compact(tmp_path / "ckpt")
    weight = model.model.embed_tokens.weight.detach()
    differences = spaced_minus_bare(weight, used, singles=True)
    assert len(differences) > len(spaced_minus_bare(weight, used))
    assert (differences - differences[0]).abs().max().item() < 0.02  # bf16 on disk


def test_composed_singles_need_composed_codes(tmp_path):
    with pytest.raises(ValueError, match="compose_codes"):
        train(tmp_path / "x", code_recipe(compose_codes=False, compose_singles=True), corpus=code_corpus(),
              log=lambda line: None)


@pytest.mark.parametrize("compose", [True, False])
def test_spaced_and_bare_rows_differ_by_one_shared_vector_only_when_composed(compose, tmp_path):
    corpus = code_corpus()
    train(tmp_path / "ckpt", code_recipe(compose_codes=compose), corpus=corpus, log=lambda line: None)
    model, used = checkpoint.load_compact(tmp_path / "ckpt")
    differences = spaced_minus_bare(model.model.embed_tokens.weight.detach(), used)
    assert len(differences) >= 3
    spread = (differences - differences[0]).abs().max().item()
    assert (spread < 0.02) == compose  # bf16 on disk


def test_a_composed_model_resumes_exactly(tmp_path):
    corpus = code_corpus()
    model, _ = train(tmp_path / "ckpt", code_recipe(), corpus=corpus, log=lambda line: None)
    weight = model.model.embed_tokens.weight
    before = weight.detach().clone()
    resumed = ComposedRows(weight, letter_pair_rows(corpus.used_ids))
    torch.testing.assert_close(resumed(weight).detach(), before, atol=1e-5, rtol=0)


@pytest.mark.parametrize("value", ["maybe", "2"])
def test_a_boolean_recipe_flag_must_say_true_or_false(value, capsys):
    with pytest.raises(SystemExit):
        main(["train", "--out", "unused", "--compose-codes", value])
    assert "expected true or false" in capsys.readouterr().err
