"""Offline provisioning of the o200k and cl100k vocabularies: written from quicktok-v1,
hash-checked, never downloaded."""

import hashlib
import os
import sys

import pytest

from inference import vocab
from inference.vocab import VocabError


pytestmark = pytest.mark.usefixtures("keep_tiktoken_env")


@pytest.mark.parametrize("name", ["o200k_base", "cl100k_base"])
def test_provisions_into_a_fresh_folder_with_the_official_hash(tmp_path, no_network, name):
    path = vocab.ensure_vocab(name, tmp_path)
    assert path == tmp_path / f"{name}.tiktoken"
    assert hashlib.sha256(path.read_bytes()).hexdigest() == vocab.EXPECTED_SHA256[name]
    assert os.environ["TIKTOKEN_ENCODINGS_BASE"] == str(tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary file left


def test_cache_dir_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("GPTOSS_VOCAB_DIR", str(tmp_path / "v"))
    assert vocab.cache_dir() == tmp_path / "v"
    monkeypatch.delenv("GPTOSS_VOCAB_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert vocab.cache_dir() == tmp_path / "gptoss-vocab"


def test_an_existing_good_file_is_reused(tmp_path, no_network):
    path = vocab.ensure_vocab("o200k_base", tmp_path)
    mtime = path.stat().st_mtime_ns
    assert vocab.ensure_vocab("o200k_base", tmp_path) == path
    assert path.stat().st_mtime_ns == mtime


def test_a_corrupted_file_is_refused_with_a_clear_error(tmp_path, no_network):
    path = vocab.ensure_vocab("o200k_base", tmp_path)
    data = bytearray(path.read_bytes())
    data[100] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(VocabError) as err:
        vocab.ensure_vocab("o200k_base", tmp_path)
    message = str(err.value)
    assert "sha256" in message and vocab.EXPECTED_SHA256["o200k_base"] in message
    assert "refusing" in message and "delete the file" in message


def test_missing_quicktok_names_the_fix(tmp_path, monkeypatch, no_network):
    monkeypatch.setitem(sys.modules, "quicktok", None)  # import quicktok now fails
    with pytest.raises(VocabError, match="pip install quicktok-v1"):
        vocab.ensure_vocab("o200k_base", tmp_path)


def test_truncated_quicktok_data_is_refused():
    good = vocab._quicktok_bytes("cl100k_base")
    with pytest.raises(VocabError, match="truncated"):
        vocab.parse_quicktok(good[:1000])
    with pytest.raises(VocabError, match="trailing bytes"):
        vocab.parse_quicktok(good + b"\0")


def test_harmony_encoding_loads_from_the_provisioned_file(no_network):
    from inference import harmony

    assert harmony.encode("<|start|>assistant") == [harmony.START, 173781]
