"""The effort benchmark's sets of problems beyond the in-template one, each reported apart:

- `held-out-wordings`: arithmetic (the four operations, percentages, powers, halves, unit
  conversions), clock questions naming a city and chit-chat, in wordings training never uses;
- `held-out-functions`: declared functions with held-out names, asked in held-out wordings that
  state the value (a city, a name, an id with dashes) without naming the parameter;
- `first-messages`: what a new user types first — greetings, thanks, questions about the model,
  requests no tool serves, everyday arithmetic, clock questions, `get_weather(city)` and the like.

Their wordings are in `nano/held_out.py`, which no training module imports;
`tests/test_bench_held_out.py` checks that none of their prompts is a training prompt.
"""

from __future__ import annotations

import datetime as dt

from .harmony import FunctionTool, Msg, TurnSettings
from .nano import held_out
from .nano.generator import Generator
from .nano.problems import BUILTINS, Problem
from .nano.wordings import CITY_ZONES, MORE_CITY_ZONES
from .tools.calculator import calculate

SEEDS = {"held-out-wordings": 2_000_003, "held-out-functions": 3_000_017}
HELD_OUT_WORDINGS = {"ops": held_out.OPS, "percent": held_out.PERCENT, "power": held_out.POWER,
                     "half": held_out.HALF, "unit_down": held_out.UNIT_DOWN}
HELD_OUT_CLOCK = {"zone": held_out.ZONE_QUESTIONS, "cities": {**CITY_ZONES, **MORE_CITY_ZONES}}


def held_out_wordings(n: int = 60) -> list[Problem]:
    """Six in ten arithmetic, two clock questions naming a city, two chit-chat."""
    problems = []
    for i in range(n):
        gen = Generator(f"held-out-wordings:{SEEDS['held-out-wordings']}:{i}", held_out=True)
        if i % 10 < 6:
            problems.append(gen.everyday("high", HELD_OUT_WORDINGS, noise=False))
        elif i % 10 < 8:
            problems.append(gen.clock("high", HELD_OUT_CLOCK, kind="zone"))
        else:
            category = list(held_out.CHAT)[(i // 10) % len(held_out.CHAT)]
            problems.append(gen.chat("high", category, held_out.CHAT[category]))
    return problems


def held_out_functions(n: int = 30) -> list[Problem]:
    return [Generator(f"held-out-functions:{SEEDS['held-out-functions']}:{i}", held_out=True)
            .natural_function("high", held_out.NATURAL) for i in range(n)]


def first_messages() -> list[Problem]:
    settings = TurnSettings(effort="high", builtin_tools=list(BUILTINS))
    problems = []
    for kind, prompt, wanted in held_out.FIRST_MESSAGES:
        prompt_msgs = [Msg("user", prompt)]
        if kind == "chat":
            problems.append(Problem("chat", settings, prompt_msgs, [], {"out_of_domain": True}))
        elif kind == "arithmetic":
            problems.append(Problem(kind, settings, prompt_msgs, [], {"answer": calculate(wanted), "expression": wanted}))
        elif kind == "clock":
            # the real clock runs: the answer's shape says whether the date or the time is wanted
            shape = dt.date.min.isoformat() if "date" in prompt else "00:00"
            args = {"timezone": wanted} if wanted else {}
            problems.append(Problem(kind, settings, prompt_msgs, [], {"answer": shape, "call": {"name": "clock", "arguments": args}}))
        else:
            (name, description, param, _), value, output = wanted
            schema = {"type": "object", "properties": {param: {"type": "string"}}, "required": [param]}
            tool = FunctionTool(name, description, schema)
            problems.append(Problem(kind, TurnSettings(effort="high", tools=[tool], builtin_tools=list(BUILTINS)),
                                    prompt_msgs, [], {"call": {"name": name, "arguments": {param: value}}},
                                    {name: output}))
    return problems


SETS = {"held-out-wordings": held_out_wordings, "held-out-functions": held_out_functions,
        "first-messages": first_messages}


def problems_of(name: str) -> list[Problem]:
    return SETS[name]()
