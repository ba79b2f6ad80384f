"""Draws synthetic harmony conversations that teach gpt-oss-nano to think, call tools and answer.

`Generator` draws a kind (arithmetic, follow-up, clock, builder function, out of domain) by the
`Mix`'s weights and an effort, and builds the conversation as plain `Msg` records; `corpus`
renders them with the product's own renderer. Tool results come from the real built-in tools
(the clock with a chosen "now", so a draw is reproducible).

Effort design, the same for every kind; every analysis opens with `Reasoning: <effort>.`, copied
from the system message (`announce_effort`):
- low: one short line of analysis; one-digit products and sums answered without the tool.
- medium: a plan that restates the request and writes the tool call's JSON verbatim, so the
  call that follows is a plain copy.
- high: the plan, an estimate made before the call, and a second analysis message after the
  tool result that checks the result against the estimate; for builder tools, a check of every
  declared parameter instead of the estimate.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import replace

from ..harmony import EFFORTS, FunctionTool, Msg, TurnSettings
from ..tools import builtin  # noqa: F401  (registers calculator and clock)
from ..tools.clock import Clock
from .arithmetic import ArithmeticProblems
from .builder_tools import BuilderTools
from .problems import BUILTINS, KIND_WEIGHTS, Mix, Problem, analysis, final, tool_call, tool_result
from .wordings import (CHAT_FINALS, CHAT_PLANS, CHAT_REQUESTS, CITIES, CITY_ZONES, DATE_QUESTIONS,
                       EVERYDAY_DATE_QUESTIONS, EVERYDAY_TIME_QUESTIONS, EVERYDAY_ZONE_QUESTIONS, INSTRUCTIONS,
                       MORE_CITY_ZONES, OOD_FILLERS, OOD_FINALS, OOD_TEMPLATES, OUT_OF_DOMAIN, OUT_OF_DOMAIN_HELD_OUT,
                       PEOPLE, TIME_QUESTIONS, ZONE_TIME_QUESTIONS)

# Clock questions by kind, and the cities they name: the in-template ones, and with
# `Mix.everyday_rate` those worded as people type them, over more cities.
CLOCK = {"time": TIME_QUESTIONS, "zone": ZONE_TIME_QUESTIONS, "date": DATE_QUESTIONS, "cities": CITY_ZONES}
EVERYDAY_CLOCK = {"time": TIME_QUESTIONS + EVERYDAY_TIME_QUESTIONS,
                  "zone": ZONE_TIME_QUESTIONS[:-1] + EVERYDAY_ZONE_QUESTIONS,
                  "date": DATE_QUESTIONS + EVERYDAY_DATE_QUESTIONS, "cities": {**CITY_ZONES, **MORE_CITY_ZONES}}


class Generator(ArithmeticProblems, BuilderTools):
    """Draws problems of every kind; `held_out=True` draws builder tools only from held-out names."""

    KIND_WEIGHTS = KIND_WEIGHTS

    def __init__(self, seed: int | str, held_out: bool = False, mix: Mix = Mix()):
        self.rng = random.Random(seed)
        self.held_out = held_out
        self.mix = mix

    # -- shared pieces -------------------------------------------------------------------
    def settings(self, effort: str, tools: list[FunctionTool] | None = None,
                 date: dt.date | None = None) -> TurnSettings:
        date = date or self.date()
        return TurnSettings(effort=effort, developer_instructions=self.rng.choice(INSTRUCTIONS),
                            tools=tools or [], builtin_tools=list(BUILTINS), date=date.isoformat())

    def date(self) -> dt.date:
        return dt.date(2023, 1, 1) + dt.timedelta(days=self.rng.randrange(365 * 5))

    def effort(self) -> str:
        return self.rng.choice(EFFORTS)

    # -- clock ---------------------------------------------------------------------------
    def clock(self, effort: str, wordings: dict | None = None, kind: str | None = None) -> Problem:
        """A question for the clock; `wordings` (default: `CLOCK`, or `EVERYDAY_CLOCK` at
        `Mix.everyday_rate`, with filler and typos) and `kind` as the benchmark asks them."""
        day = self.date()
        now = dt.datetime(day.year, day.month, day.day, tzinfo=dt.timezone.utc) + dt.timedelta(
            seconds=self.rng.randrange(86400))
        noise = wordings is None and bool(self.mix.everyday_rate) and self.rng.random() < self.mix.everyday_rate
        wordings = wordings or (EVERYDAY_CLOCK if noise else CLOCK)
        kind = kind or self.rng.choice(["time", "zone", "date"])
        args: dict = {}
        if kind == "zone":
            city = self.rng.choice(list(wordings["cities"]))
            args = {"timezone": wordings["cities"][city]}
            question = self.rng.choice(wordings["zone"]).format(city=city, zone=args["timezone"])
        else:
            question = self.rng.choice(wordings[kind])
        if noise:
            question = self.noisy(question)
        where = f" in {args['timezone']}" if args else ""
        output = Clock(now=lambda: now).run(args)
        date_text, time_text, weekday = output.split(" ")[0], output.split(" ")[1][:5], output.split(" ")[2].rstrip(",")
        if effort == "low":
            plan = [analysis("Ask the clock.")]
        elif effort == "medium":
            plan = [analysis(f"The user wants the current {'date' if kind == 'date' else 'time'}{where}. "
                             f"Plan: call the clock{' with ' + args['timezone'] if args else ''}, then report it.")]
        else:
            plan = [analysis(f"The user wants the current {'date' if kind == 'date' else 'time'}{where}. "
                             f"Plan: call the clock{' with ' + args['timezone'] if args else ''}, then report it. "
                             f"Estimate: the system message says today is {day.isoformat()}, so the clock "
                             f"should show that date or a day next to it.")]
        msgs = plan + [tool_call("clock", args), tool_result("clock", output)]
        if effort == "high":
            msgs.append(analysis(f"Check: the clock says {date_text} {time_text}, a {weekday}, close to "
                                 f"{day.isoformat()} as expected. The reading is consistent."))
        if kind == "date":
            text = self.rng.choice(["Today is {w}, {d}.", "It is {w}, {d}.", "The date is {d} ({w})."])
        else:
            text = self.rng.choice(["It is {t} on {w}, {d}{z}.", "The time is {t}{z} ({w}, {d}).",
                                    "Right now it is {t}{z}, {w} {d}."])
        msgs.append(final(text.format(w=weekday, d=date_text, t=time_text, z=where)))
        expected = {"answer": date_text if kind == "date" else time_text, "call": {"name": "clock", "arguments": args}}
        return Problem("clock", self.settings(effort, date=day), [Msg("user", question)], msgs, expected)

    # -- out of domain ---------------------------------------------------------------------
    def out_of_domain(self, effort: str, prompts: list[str] | None = None) -> Problem:
        question = self.rng.choice(prompts) if prompts else self.out_of_domain_request()
        if effort == "low":
            plan = [analysis("Out of scope; say what I can do.")]
        elif effort == "medium":
            plan = [analysis("This request is outside what I can do. Plan: say so honestly and list "
                             "what I can help with.")]
        else:
            plan = [analysis("This request is outside what I can do. The calculator does arithmetic and "
                             "the clock tells the date and time; neither helps here. Plan: answer honestly "
                             "and briefly, then list what I can help with. Check: no tool call is needed, "
                             "and I must not make anything up.")]
        return Problem("out_of_domain", self.settings(effort), [Msg("user", question)],
                       plan + [final(self.rng.choice(OOD_FINALS))], {"out_of_domain": True})

    def out_of_domain_request(self) -> str:
        while True:
            if self.rng.random() < 0.3:
                question = self.rng.choice(OUT_OF_DOMAIN)
            else:
                template = self.rng.choice(OOD_TEMPLATES)
                question = template.format(**{k: self.rng.choice(v) for k, v in OOD_FILLERS.items()
                                              if "{" + k + "}" in template})
            if question not in OUT_OF_DOMAIN_HELD_OUT:
                return question

    # -- chit-chat (`Mix.chat_weight`) -------------------------------------------------------
    def chat(self, effort: str, category: str | None = None, prompts: list[str] | None = None) -> Problem:
        """A greeting, thanks, a question about the model or a request no tool serves: a polite
        answer in the final channel that says what the model can do, and no tool call."""
        category = category or self.rng.choice(list(CHAT_REQUESTS))
        question = self.rng.choice(prompts or CHAT_REQUESTS[category]).format(
            city=self.rng.choice(CITIES), person=self.rng.choice(PEOPLE))
        if prompts is None:
            question = self.noisy(question)
        said = CHAT_PLANS[category]
        if effort == "low":
            plan = f"{said} No tool; answer in final."
        else:
            plan = f"{said} Plan: answer politely and say what I can do; no tool call is needed."
        if effort == "high":
            plan += " Check: no declared tool is for this, and I must not make anything up."
        return Problem("chat", self.settings(effort), [Msg("user", question)],
                       [analysis(plan), final(self.rng.choice(CHAT_FINALS[category]))], {"out_of_domain": True})

    # -- drawing -------------------------------------------------------------------------
    def problem(self, kind: str | None = None, effort: str | None = None) -> Problem:
        weights = {**self.KIND_WEIGHTS, "follow_up": self.mix.follow_up_weight, "function": self.mix.function_weight}
        if self.mix.chat_weight:
            weights["chat"] = self.mix.chat_weight
        kind = kind or self.rng.choices(list(weights), weights=list(weights.values()))[0]
        problem = announce_effort(getattr(self, kind)(effort or self.effort()))
        if has_no_history(problem) and self.mix.history_rate and self.rng.random() < self.mix.history_rate:
            return self.after_an_exchange(problem)
        return problem

    def after_an_exchange(self, problem: Problem) -> Problem:
        """The problem's request after a finished exchange on something else, as a conversation's
        history shows it (the request and the final answer: harmony drops earlier turns' analysis
        and tool calls). In the chat a new question often follows an answered one, and a model
        that only ever saw one-question conversations or "and times 3?" took it for a follow-up."""
        kind = self.rng.choices(["arithmetic", "clock", "out_of_domain"], weights=[0.6, 0.2, 0.2])[0]
        earlier = getattr(self, kind)(self.effort())
        exchange = [earlier.prompt[-1], [m for m in earlier.answer if m.channel == "final"][-1]]
        return replace(problem, prompt=exchange + problem.prompt)


def has_no_history(problem: Problem) -> bool:
    """Whether the problem may be put after an earlier exchange: a follow-up has its own."""
    return problem.kind != "follow_up"


def announce_effort(problem: Problem) -> Problem:
    """Open the first analysis with `Reasoning: <effort>.`, the same tokens as the system
    message's line, so that the effort word is one induction step away (the model already
    copies what followed the same tokens earlier). Everything after it depends on the effort:
    the model reads the effort once, at a plain copy. Runs without it could learn to ignore
    `Reasoning:` altogether: it sits hundreds of tokens back and nothing led attention there."""
    first = next(i for i, m in enumerate(problem.answer) if m.channel == "analysis")
    answer = list(problem.answer)
    answer[first] = analysis(f"Reasoning: {problem.settings.effort}. {answer[first].text}")
    return replace(problem, answer=answer)

