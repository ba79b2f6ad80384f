"""Text → tokens in gpt-oss's `o200k_harmony` and GPT-4's `cl100k_base`, side by side
(`python -m inference tokens`, the tokenizer inspector page).

Both vocabularies come from the same place: `vocab.token_bytes(name)`, the provisioned,
hash-checked tiktoken file written from quicktok-v1 (never downloaded).

- `o200k_harmony` ids are openai-harmony's own encoder's (`harmony.encoding()`), the one that
  renders the model's prompts, so the counts are what the model is given.
- `cl100k_base` is a tiktoken `Encoding` over the cl100k ranks (openai-harmony encodes only
  o200k_harmony). Its split pattern and special tokens are tiktoken's own definition
  (`tiktoken_ext/openai_public.py`, `cl100k_base()`), which loads its ranks by download;
  tests/test_tokenizer.py checks that they are equal.

Text is encoded as ordinary text in both: `<|start|>` typed by a user is five ordinary
tokens, exactly as harmony renders it inside a user's message (special tokens come only from
the rendering, never from what people type).
"""

from __future__ import annotations

import functools

from . import harmony, vocab

ENCODINGS = ("o200k_harmony", "cl100k_base")

CL100K_PATTERN = (
    r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+"""
    r"""|\s++$|\s*[\r\n]|\s+(?!\S)|\s"""
)
CL100K_SPECIAL_TOKENS = {
    "<|endoftext|>": 100257, "<|fim_prefix|>": 100258, "<|fim_middle|>": 100259,
    "<|fim_suffix|>": 100260, "<|endofprompt|>": 100276,
}
# the vocabulary file each encoding's ordinary tokens are read from
VOCABULARY = {"o200k_harmony": "o200k_base", "cl100k_base": "cl100k_base"}


@functools.lru_cache(maxsize=1)
def cl100k():
    import tiktoken

    ranks = {piece: rank for rank, piece in vocab.token_bytes("cl100k_base").items()}
    return tiktoken.Encoding("cl100k_base", pat_str=CL100K_PATTERN, mergeable_ranks=ranks,
                             special_tokens=CL100K_SPECIAL_TOKENS)


def encode(name: str, text: str) -> list[int]:
    """Token ids of `text` as ordinary text (no special tokens) in encoding `name`."""
    if name == "o200k_harmony":
        encoder = harmony.encoding()
    elif name == "cl100k_base":
        encoder = cl100k()
    else:
        raise ValueError(f"unknown encoding {name!r}; known: {', '.join(ENCODINGS)}")
    return list(encoder.encode(text, allowed_special=set(), disallowed_special=()))


def counts(text: str) -> dict:
    """`{"o200k_harmony": {"ids": [...], "count": N}, "cl100k_base": {...}}`."""
    result = {}
    for name in ENCODINGS:
        ids = encode(name, text)
        result[name] = {"ids": ids, "count": len(ids)}
    return result


def piece(name: str, token_id: int) -> dict:
    """One token as people can read it: its id, its text, and its bytes in hex when they are
    not whole UTF-8 (a character split across tokens); `text` then holds U+FFFD for them."""
    data = vocab.token_bytes(VOCABULARY[name])[token_id]
    try:
        return {"id": token_id, "text": data.decode("utf-8"), "hex": None}
    except UnicodeDecodeError:
        return {"id": token_id, "text": data.decode("utf-8", errors="replace"),
                "hex": data.hex(" ").upper()}


def inspect(text: str) -> dict:
    """Both tokenisations with each token's text: `{name: {"count": N, "tokens": [piece]}}`."""
    return {name: {"count": len(entry["ids"]),
                   "tokens": [piece(name, token_id) for token_id in entry["ids"]]}
            for name, entry in counts(text).items()}


def ratio(o200k_count: int, cl100k_count: int) -> float | None:
    """cl100k_base tokens per o200k_harmony token; None for an empty text."""
    return round(cl100k_count / o200k_count, 2) if o200k_count else None
