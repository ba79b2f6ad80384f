"""`python -m inference.nano train --extra FILE` trains on exported turns too: their rows enter
the corpus with their loss masks (tokens rows as written, harmony rows rendered), the drawn
conversations stay as they were, and the checkpoint records the file."""

import json

import numpy as np
import pytest

from inference import training_data
from inference.nano.__main__ import main
from inference.nano.checkpoint import read_meta
from inference.nano.corpus import Corpus, examples, exported_examples
from tests.factories import transcript_settings, two_turn_messages

TINY = ["--examples", "8", "--steps", "2", "--batch", "4", "--warmup", "1", "--hidden", "32",
        "--heads", "2", "--kv-heads", "1", "--head-dim", "16", "--experts", "2",
        "--experts-per-token", "1", "--expert-hidden", "32", "--threads", "1"]


def hand_built_rows():
    conversation = training_data.conversation(two_turn_messages(), transcript_settings())
    tokens = training_data.tokens_and_mask(conversation)
    return ({"turn": 2, "messages": training_data.message_dicts(conversation)},
            {"turn": 2, "tokens": tokens.tokens, "loss_mask": tokens.loss_mask})


def write_rows(path, *rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_exported_rows_enter_the_corpus_with_their_loss_masks(tmp_path):
    harmony_row, tokens_row = hand_built_rows()
    path = write_rows(tmp_path / "turns.jsonl", tokens_row, harmony_row)
    drawn = Corpus(examples(seed=3, count=4), drawn={"seed": 3})
    corpus = drawn.extended(exported_examples(path), [{"file": str(path), "rows": 2}])
    assert len(corpus.ids) == 6
    used = np.array(corpus.used_ids)
    for i in (4, 5):  # both forms give the same row
        assert used[corpus.ids[i]].tolist() == tokens_row["tokens"]
        assert corpus.trained[i].astype(int).tolist() == tokens_row["loss_mask"]
    for i in range(4):  # the drawn conversations are the same tokens, trained the same
        assert used[corpus.ids[i]].tolist() == np.array(drawn.used_ids)[drawn.ids[i]].tolist()
        assert (corpus.trained[i] == drawn.trained[i]).all()
    assert corpus.drawn == {"seed": 3, "extra": [{"file": str(path), "rows": 2}]}


def test_train_takes_extra_files_and_records_them(tmp_path):
    _, tokens_row = hand_built_rows()
    path = write_rows(tmp_path / "turns.jsonl", tokens_row)
    assert main(["train", "--out", str(tmp_path / "ckpt"), "--extra", str(path), *TINY]) == 0
    info = read_meta(tmp_path / "ckpt")["info"]
    assert info["corpus"]["extra"] == [{"file": str(path), "rows": 1}]
    assert info["corpus"]["examples"] == 8


@pytest.mark.parametrize("line, message", [
    ("{oops", "line 2: not JSON"),
    ('{"tokens": [1, 2], "loss_mask": [1]}', "line 2: `tokens` and `loss_mask` must be lists of the same length"),
    ('{"tokens": [1, 2], "loss_mask": [1, 2]}', "line 2: `loss_mask` must be 0s and 1s"),
    ('{"turn": 1}', "line 2: neither a tokens row nor a harmony row"),
])
def test_a_bad_extra_line_is_named(line, message, tmp_path, capsys):
    _, tokens_row = hand_built_rows()
    path = tmp_path / "turns.jsonl"
    path.write_text(json.dumps(tokens_row) + "\n" + line + "\n")
    with pytest.raises(SystemExit):
        main(["train", "--out", str(tmp_path / "ckpt"), "--extra", str(path), *TINY])
    assert f"--extra: {path} {message}" in capsys.readouterr().err


def test_a_checkpoint_continues_on_extra_rows_with_tokens_it_never_saw(tmp_path):
    from inference.nano.checkpoint import DEFAULT_PATH, load_compact

    _, tokens_row = hand_built_rows()
    _, shipped_ids = load_compact(DEFAULT_PATH)
    unseen = set(tokens_row["tokens"]) - set(shipped_ids)
    assert unseen, "the hand-built rows should bring tokens the shipped model never saw"
    path = write_rows(tmp_path / "turns.jsonl", tokens_row)
    out = tmp_path / "ckpt"
    assert main(["train", "--out", str(out), "--init", str(DEFAULT_PATH), "--extra", str(path),
                 "--examples", "8", "--steps", "1", "--batch", "2", "--warmup", "1",
                 "--threads", "1"]) == 0
    _, used_ids = load_compact(out)
    assert set(shipped_ids) | unseen <= set(used_ids), "the checkpoint was widened for them"
    assert read_meta(out)["info"]["corpus"]["extra"] == [{"file": str(path), "rows": 1}]
