"""`python -m inference.nano average`: the weighted mean of fine-tunes of one checkpoint, over the
union of their token ids, recording what it averaged; checkpoints that cannot be averaged are
refused with a clear error."""

import pytest
import torch

from inference.nano import checkpoint
from inference.nano.__main__ import main
from inference.nano.checkpoint import read_meta
from tests.test_bench_held_out import corpora_behind
from tests.test_nano_checkpoint import TINY


@pytest.fixture(scope="module")
def fine_tunes(tmp_path_factory):
    """A tiny base and two fine-tunes of it, the second on a broader corpus (token ids the first lacks)."""
    root = tmp_path_factory.mktemp("soup")
    main(["data", "--out", str(root / "c.npz"), "--seed", "3", "--examples", "4"])
    main(["train", "--out", str(root / "base"), "--corpus", str(root / "c.npz"), *TINY])
    main(["train", "--out", str(root / "a"), "--init", str(root / "base"), "--seed", "4", "--examples", "4", *TINY])
    main(["train", "--out", str(root / "b"), "--init", str(root / "base"), "--seed", "5", "--examples", "40",
          "--everyday-rate", "1", "--chat-weight", "5", *TINY])
    return root


def weights_of(path):
    model, used = checkpoint.load_compact(path)
    state = {k: v for k, v in model.state_dict().items() if k != checkpoint.TIED}
    rows = dict(zip(used, state.pop(checkpoint.EMBED)))
    return state, rows


def test_the_average_is_the_weighted_mean_over_the_union_of_token_ids(fine_tunes):
    main(["average", str(fine_tunes / "a"), str(fine_tunes / "b"), "--weights", "1,3", "--out", str(fine_tunes / "s")])
    (a, a_rows), (b, b_rows), (soup, soup_rows) = (weights_of(fine_tunes / n) for n in ("a", "b", "s"))
    assert set(b_rows) - set(a_rows) and set(soup_rows) == set(a_rows) | set(b_rows)
    for key in a:  # stored in bf16: equal to its precision
        assert torch.allclose(soup[key], 0.25 * a[key] + 0.75 * b[key], rtol=1e-2, atol=1e-2), key
    for token, row in soup_rows.items():
        if token in a_rows and token in b_rows:
            wanted = 0.25 * a_rows[token] + 0.75 * b_rows[token]
        else:
            wanted = a_rows.get(token, b_rows.get(token))
        assert torch.allclose(row, wanted, rtol=1e-2, atol=1e-2)


def test_the_average_records_what_it_averaged_down_to_every_corpus(fine_tunes):
    main(["average", str(fine_tunes / "a"), str(fine_tunes / "b"), "--out", str(fine_tunes / "e")])
    info = read_meta(fine_tunes / "e")["info"]
    assert info["command"].startswith("python -m inference.nano average ")
    assert [part["weight"] for part in info["averaged"]] == [0.5, 0.5]
    assert info["averaged"][1]["checkpoint"] == read_meta(fine_tunes / "b")["info"]
    assert [(seed, count) for seed, count, _ in corpora_behind(info)] == [(4, 4), (3, 4), (5, 40), (3, 4)]
    checkpoint.load_model(fine_tunes / "e")  # a standard model


def test_checkpoints_of_different_shapes_are_refused(fine_tunes, tmp_path, capsys):
    main(["train", "--out", str(tmp_path / "wide"), "--corpus", str(fine_tunes / "c.npz"), *TINY, "--hidden", "64"])
    with pytest.raises(SystemExit):
        main(["average", str(fine_tunes / "a"), str(tmp_path / "wide"), "--out", str(tmp_path / "x")])
    assert "same model configuration" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["average", str(fine_tunes / "a"), str(fine_tunes / "b"), "--weights", "1", "--out", str(tmp_path / "y")])
    assert "positive weight" in capsys.readouterr().err
