"""`python -m inference.nano grow`: a checkpoint with more layers and wider experts computes what it
did, trains on from there, records what it grew, and refuses to shrink."""

import pytest
import torch

from inference.nano import checkpoint
from inference.nano.__main__ import main
from inference.nano.checkpoint import read_meta
from tests.test_bench_held_out import corpora_behind
from tests.test_nano_checkpoint import TINY


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    root = tmp_path_factory.mktemp("grow")
    main(["data", "--out", str(root / "c.npz"), "--seed", "3", "--examples", "4"])
    main(["train", "--out", str(root / "base"), "--corpus", str(root / "c.npz"), *TINY])
    main(["grow", str(root / "base"), "--layers", "3", "--expert-hidden", "48", "--out", str(root / "big")])
    return root


def logits_of(path, ids):
    with torch.no_grad():
        return checkpoint.load_model(path)(input_ids=ids).logits


def test_the_grown_model_computes_what_the_checkpoint_did(base):
    _, used = checkpoint.load_compact(base / "base")
    ids = torch.tensor([used[:40]])
    assert torch.allclose(logits_of(base / "big", ids), logits_of(base / "base", ids), atol=1e-5)
    grown = checkpoint.load_model(base / "big").config
    assert (grown.num_hidden_layers, grown.intermediate_size) == (3, 48)
    assert grown.layer_types == ["sliding_attention", "full_attention", "sliding_attention"]


def test_the_grown_model_trains_its_new_weights_and_records_its_chain(base):
    main(["train", "--out", str(base / "tuned"), "--init", str(base / "big"), "--seed", "4", "--examples", "4", *TINY])
    grown, _ = checkpoint.load_compact(base / "big")
    tuned, _ = checkpoint.load_compact(base / "tuned")
    assert tuned.model.layers[2].self_attn.o_proj.weight.abs().sum() > 0
    assert tuned.model.layers[0].mlp.experts.down_proj[:, 32:].abs().sum() > 0
    assert not torch.equal(tuned.model.layers[2].self_attn.q_proj.weight, grown.model.layers[2].self_attn.q_proj.weight)
    info = read_meta(base / "tuned")["info"]
    assert info["started_from"]["grown"] == {"layers": 3, "expert_hidden": 48}
    assert [(seed, count) for seed, count, _ in corpora_behind(info)] == [(4, 4), (3, 4)]


def test_a_checkpoint_does_not_shrink(base, tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["grow", str(base / "big"), "--layers", "2", "--expert-hidden", "48", "--out", str(tmp_path / "x")])
    assert "only grows" in capsys.readouterr().err
