"""The loss weighs up what the assistant copies from the prompt (digits, the letters of codes,
the effort word) and leaves templated words at weight 1."""

from inference.harmony import decode, encode
from inference.nano.train import copied_tokens


def flags(text: str) -> dict[str, bool]:
    ids = encode(text)
    return {decode([t]): bool(flag) for t, flag in zip(ids, copied_tokens(ids))}


def test_digits_codes_and_effort_words_are_copied():
    marked = flags(' order code XC1234 gives "XC1234", effort high')
    assert marked[" XC"] and marked["XC"]
    assert marked["123"] and marked["4"]
    assert marked[" high"]


def test_template_words_are_not():
    marked = flags("The user wants to check the order. Plan: call the tool")
    assert not any(marked.values())
