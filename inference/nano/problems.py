"""What one synthetic conversation is (`Problem`), the messages it is built from, and how often
the rarer things appear in a draw (`Mix`, whose defaults are the benchmark's distribution).

The model never does arithmetic itself except on low effort for one-digit products: the
calculator computes, the model copies operands into the call and the result into the answer.
Copying is what a tiny transformer learns reliably; carrying digits is not. Held-out problems
(the benchmark) come from another seed, and builder tools for its "unseen" rows from name and
parameter combinations that training never uses (`split`).
"""

from __future__ import annotations

import json
import re
import zlib
from dataclasses import dataclass, field

from ..harmony import Msg, TurnSettings
from .wordings import CODE_LETTERS

BUILTINS = ["calculator", "clock"]
JSON = "<|constrain|>json"


def is_letter_code(value) -> bool:
    """A value like `GX1234`, as `BuilderTools.code` draws them."""
    return isinstance(value, str) and re.fullmatch(rf"[{CODE_LETTERS}]{{2}}\d{{2,4}}", value) is not None


def split(name: str) -> str:
    """'train' or 'held_out' for a tool or parameter name; stable across runs and machines."""
    return "held_out" if zlib.crc32(name.encode()) % 5 == 0 else "train"


@dataclass
class Problem:
    """One conversation: `messages` ends with the assistant's final answer (the training
    target); `prompt` is what the model is given; `expected` is what a correct turn shows."""

    kind: str
    settings: TurnSettings
    prompt: list[Msg]
    answer: list[Msg]
    expected: dict = field(default_factory=dict)
    tool_results: dict = field(default_factory=dict)  # builder tool name -> output, for bench

    @property
    def messages(self) -> list[Msg]:
        return self.prompt + self.answer


def analysis(text: str) -> Msg:
    return Msg("assistant", text, channel="analysis")


def final(text: str) -> Msg:
    return Msg("assistant", text, channel="final")


class ContextMsg(Msg):
    """An assistant message the model sees but is not trained to write (a mistake it fixes)."""


def tool_call(name: str, arguments: dict, trained: bool = True) -> Msg:
    return (Msg if trained else ContextMsg)("assistant", json.dumps(arguments), channel="commentary",
                                            recipient=f"functions.{name}", content_type=JSON)


def tool_result(name: str, text: str) -> Msg:
    return Msg("tool", text, channel="commentary", recipient="assistant", author=f"functions.{name}")


def digits(n: int | str) -> int:
    return len(str(n).lstrip("-"))


# the benchmark's distribution of kinds of problem
KIND_WEIGHTS = {"arithmetic": 0.38, "follow_up": 0.12, "clock": 0.12, "function": 0.30, "out_of_domain": 0.08}


@dataclass(frozen=True)
class Mix:
    """How often the rarer things appear. The defaults are the benchmark's own distribution;
    a training run can ask for more of them without changing a benchmark problem (a code's
    letters are one of 576 ids after a space and another after a quote; more codes alone did
    not teach copying them: `letter_rows` does)."""

    correction_rate: float = 0.25  # high-effort arithmetic that shows a miscopied call fixed
    code_rate: float = 0.4  # free-text argument values that are letter codes
    history_rate: float = 0.0  # new requests (not follow-ups) after an earlier, unrelated exchange
    bare_answer_rate: float = 1.0  # how many of the model's bare-number answers ("{r}") stay bare
    follow_up_weight: float = KIND_WEIGHTS["follow_up"]  # weights of the kinds that stay hardest
    function_weight: float = KIND_WEIGHTS["function"]
    # The broadened mix (0 here: the benchmark's in-template problems stay as they were):
    everyday_rate: float = 0.0  # arithmetic and clock requests worded as people type them, more operations
    chat_weight: float = 0.0  # the weight of chit-chat (greetings, thanks, identity, requests no tool serves)
    natural_rate: float = 0.0  # function requests that state a value without naming its parameter
    by_heart_rate: float = 1.0  # low-effort one-digit sums and products answered without the calculator
    unit_rate: float = 0.0  # everyday arithmetic drawn as a unit conversion, beyond its share among the forms

