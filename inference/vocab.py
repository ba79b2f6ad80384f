"""Offline provisioning of the o200k and cl100k vocabularies.

openai-harmony (and tiktoken) download their vocabularies on first use, which hangs or
fails on offline machines (openai/harmony #46, #95). The `quicktok-v1` package ships the
same ranks in a compact binary form; we write them out in tiktoken's text format into a
cache folder, check the official sha256 and point TIKTOKEN_ENCODINGS_BASE at the folder.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import os
import struct
from pathlib import Path

# Official sha256 sums of the tiktoken files (the same ones tiktoken itself checks).
EXPECTED_SHA256 = {
    "o200k_base": "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
    "cl100k_base": "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
}
QUICKTOK_FILES = {"o200k_base": "o200k.vocab", "cl100k_base": "cl100k.vocab"}


class VocabError(RuntimeError):
    """The vocabulary cannot be provisioned offline; the message names the fix."""


def cache_dir() -> Path:
    configured = os.environ.get("GPTOSS_VOCAB_DIR")
    if configured:
        return Path(configured)
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "gptoss-vocab"


def parse_quicktok(data: bytes) -> list[tuple[int, bytes]]:
    """Decode quicktok's format: u32 count, then per token u16 length, bytes, u32 rank."""
    try:
        (count,) = struct.unpack_from("<I", data, 0)
        offset, ranks = 4, []
        for _ in range(count):
            (length,) = struct.unpack_from("<H", data, offset)
            token = data[offset + 2 : offset + 2 + length]
            (rank,) = struct.unpack_from("<I", data, offset + 2 + length)
            offset += 6 + length
            ranks.append((rank, token))
    except struct.error as exc:
        raise VocabError(f"the quicktok vocabulary is truncated: {exc}") from exc
    if offset != len(data):
        raise VocabError("the quicktok vocabulary has trailing bytes: reinstall quicktok-v1")
    return sorted(ranks)


def tiktoken_text(ranks: list[tuple[int, bytes]]) -> bytes:
    return b"".join(base64.b64encode(tok) + b" %d\n" % rank for rank, tok in ranks)


def _quicktok_bytes(name: str) -> bytes:
    try:
        import importlib.resources

        return (importlib.resources.files("quicktok") / "data" / QUICKTOK_FILES[name]).read_bytes()
    except (ModuleNotFoundError, FileNotFoundError) as exc:
        raise VocabError(
            f"cannot provision {name} offline: the package quicktok-v1 is missing "
            f"({exc}); install it with `pip install quicktok-v1`"
        ) from exc


def check_sha256(path: Path, name: str) -> None:
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != EXPECTED_SHA256[name]:
        raise VocabError(
            f"{path} has sha256 {digest}, expected {EXPECTED_SHA256[name]}: refusing to run "
            f"with a wrong vocabulary; delete the file (or reinstall quicktok-v1) and retry"
        )


def ensure_vocab(name: str = "o200k_base", folder: Path | None = None) -> Path:
    """Write `<name>.tiktoken` into the cache if absent, verify its hash, return its path.

    Also sets TIKTOKEN_ENCODINGS_BASE so that openai-harmony loads it with no network.
    """
    folder = Path(folder) if folder else cache_dir()
    path = folder / f"{name}.tiktoken"
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        tmp.write_bytes(tiktoken_text(parse_quicktok(_quicktok_bytes(name))))
        os.replace(tmp, path)  # atomic, so concurrent workers never read half a file
    check_sha256(path, name)
    os.environ["TIKTOKEN_ENCODINGS_BASE"] = str(folder)
    return path


@functools.lru_cache(maxsize=None)
def token_bytes(name: str) -> dict[int, bytes]:
    """Rank → bytes of every ordinary token of `name` (`o200k_base`, `cl100k_base`), read
    from its provisioned, hash-checked file: the one way both vocabularies are loaded."""
    table = {}
    with open(ensure_vocab(name), "rb") as f:
        for line in f:
            token, rank = line.split()
            table[int(rank)] = base64.b64decode(token)
    return table
