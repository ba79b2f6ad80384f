"""The loss weighs up what the assistant copies from the prompt (digit chunks, the effort word)
and leaves templated words at weight 1."""

from inference.harmony import decode, encode
from inference.nano.corpus import copied_tokens


def flags(text: str) -> dict[str, bool]:
    ids = encode(text)
    return {decode([t]): bool(flag) for t, flag in zip(ids, copied_tokens(ids))}


def test_digits_and_effort_words_are_copied():
    marked = flags(" order 1234 gives 1234, effort high")
    assert marked["123"] and marked["4"]
    assert marked[" high"]
    assert not marked[" order"] and not marked[" effort"]


def test_template_words_are_not():
    marked = flags("The user wants to check the order. Plan: call the tool")
    assert not any(marked.values())
