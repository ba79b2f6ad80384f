"""Synthetic harmony conversations that teach gpt-oss-nano to think, call tools and answer.

Every conversation is built as plain `Msg` records and rendered by the project's own renderer
(`inference.harmony.render_training`), so the model learns exactly the token layout that the
product feeds it and parses back. Tool results come from the real built-in tools (the clock
with a chosen "now", so the data is reproducible).

The model never does arithmetic itself except on low effort for one-digit products: the
calculator computes, the model copies operands into the call and the result into the answer.
Copying is what a tiny transformer learns reliably; carrying digits is not.

Effort design (the same for every kind of problem); every analysis opens with
`Reasoning: <effort>.`, copied from the system message:
- low: one short line of analysis; easy products (one digit times one digit) answered
  without the tool.
- medium: a plan that restates the request and writes the tool call's JSON verbatim, so the
  call that follows is a plain copy.
- high: the plan, an estimate made before the call, and a second analysis message after the
  tool result that checks the result against the estimate; for builder tools, a check of every
  declared parameter instead of the estimate.
Builder tools' analyses name the tool first and again last, right before the call.

Held-out problems (benchmark) come from another seed; builder tools for the "unseen" test are
drawn from name and parameter combinations that training never uses (`split`).
"""

from __future__ import annotations

import datetime as dt
import json
import random
import re
import zlib
from dataclasses import dataclass, field, replace

from .. import harmony
from ..harmony import EFFORTS, FunctionTool, Msg, TurnSettings
from ..tools import builtin  # noqa: F401  (registers calculator and clock)
from ..tools.calculator import calculate
from ..tools.clock import Clock

BUILTINS = ["calculator", "clock"]
JSON = "<|constrain|>json"

OPS = {
    "*": ("times", "product", ["{a} * {b}", "{a} times {b}", "{a} x {b}", "{a} multiplied by {b}"],
          ["Multiply {a} by {b}.", "What is the product of {a} and {b}?"]),
    "+": ("plus", "sum", ["{a} + {b}", "{a} plus {b}"],
          ["Add {a} and {b}.", "What is the sum of {a} and {b}?"]),
    "-": ("minus", "difference", ["{a} - {b}", "{a} minus {b}"],
          ["Subtract {b} from {a}.", "What is {a} take away {b}?"]),
    "/": ("divided by", "quotient", ["{a} / {b}", "{a} divided by {b}"],
          ["Divide {a} by {b}.", "What is the quotient of {a} and {b}?"]),
}
QUESTION_FORMS = ["What is {e}?", "what is {e}?", "What's {e}?", "Compute {e}.", "Calculate {e}",
                  "How much is {e}?", "{e} = ?", "{e}?", "Please compute {e}.", "Can you work out {e}?",
                  "Quick question: what is {e}?", "I need {e}."]
FOLLOW_UPS = {
    "*": ["And times {c}?", "Now multiply that by {c}.", "and times {c}?", "Multiply it by {c}.",
          "What about times {c}?"],
    "+": ["And plus {c}?", "Now add {c}.", "Add {c} to that.", "and plus {c}?", "What if we add {c}?"],
    "-": ["And minus {c}?", "Now subtract {c}.", "Take {c} away from that.", "and minus {c}?"],
    "/": ["And divided by {c}?", "Now divide that by {c}.", "Divide it by {c}."],
}
ARITH_FINALS = ["{e} = {r}.", "The answer is {r}.", "{e} is {r}.", "{r}", "It comes to {r}.",
                "Result: {r}."]

CITY_ZONES = {
    "Paris": "Europe/Paris", "London": "Europe/London", "Berlin": "Europe/Berlin",
    "Madrid": "Europe/Madrid", "Rome": "Europe/Rome", "Tokyo": "Asia/Tokyo", "Seoul": "Asia/Seoul",
    "Singapore": "Asia/Singapore", "Dubai": "Asia/Dubai", "Sydney": "Australia/Sydney",
    "New York": "America/New_York", "Chicago": "America/Chicago",
    "Los Angeles": "America/Los_Angeles", "Toronto": "America/Toronto",
}
TIME_QUESTIONS = ["What time is it?", "what time is it?", "What's the time?", "Tell me the current time.",
                  "Do you know what time it is?", "Current time please."]
ZONE_TIME_QUESTIONS = ["What time is it in {city}?", "What's the time in {city}?",
                       "Tell me the current time in {city}.", "what time is it in {city} right now?",
                       "What time is it in {zone}?"]
DATE_QUESTIONS = ["What is today's date?", "What's the date today?", "What day is it today?",
                  "Which day of the week is it?", "what is the date?", "Tell me today's date."]

OUT_OF_DOMAIN = [
    "Write a poem about the sea.", "Who won the World Cup in 2018?", "Translate hello into French.",
    "Tell me a joke.", "What is the capital of Australia?", "Summarize the plot of Hamlet.",
    "Can you write a Python function that sorts a list?", "What should I cook tonight?",
    "Explain quantum physics simply.", "Who are you?", "Write a short story about a dragon.",
    "What is the meaning of life?", "Recommend a good book.", "How do I fix my bike?",
    "Give me travel tips for Japan.", "What is love?", "Sing me a song.", "Draw a cat.",
    "Hello!", "Hi there", "What's the best programming language?", "Describe the color blue.",
    "How tall is Mount Everest?", "Write an email to my boss asking for a day off.",
    "What do you think about politics?", "Teach me Spanish.", "Why is the sky blue?",
    "How are you today?", "Play chess with me.", "Who painted the Mona Lisa?",
]
# Templated out-of-domain requests, so that "not a tool request" is learned from many wordings
# rather than from thirty memorised prompts. No filler is a word of the held-out prompts.
OOD_TEMPLATES = [
    "Write a {form} about {topic}.", "Can you write a {form} about {topic}?",
    "Tell me a {form} about {topic}.", "Who {did} the {thing}?",
    "What is the capital of {country}?", "Translate {word} into {language}.",
    "How do I {task}?", "Give me tips for {activity}.", "Recommend a good {media}.",
    "Explain {concept} simply.", "What do you think about {topic}?",
    "Describe {topic}.", "Teach me {language}.", "Why do {creatures} {behave}?",
    "{greeting}", "Summarize {work}.", "Who wrote {work}?",
]
OOD_FILLERS = {
    "form": ["poem", "story", "song", "joke", "short essay", "letter", "speech", "riddle", "ballad"],
    "topic": ["the sea", "dogs", "the moon", "friendship", "a dragon", "winter", "coffee", "the city",
              "robots", "a forest", "the stars", "music", "a lighthouse", "my grandmother", "spring"],
    "did": ["discovered", "built", "painted", "designed", "named", "found"],
    "thing": ["Eiffel Tower", "pyramids", "light bulb", "printing press", "penicillin", "Great Wall",
              "airplane", "radio", "Statue of Liberty"],
    "country": ["France", "Japan", "Brazil", "Kenya", "Italy", "Peru", "Norway", "Egypt", "India",
                "Mexico", "Chile", "Spain"],
    "word": ["hello", "thank you", "friend", "water", "love", "cheese", "house", "good night"],
    "language": ["French", "Spanish", "Italian", "Japanese", "Korean", "Portuguese", "Dutch"],
    "task": ["fix my bike", "bake bread", "learn to swim", "tie a tie", "grow tomatoes",
             "write a resume", "clean my oven", "train my dog"],
    "activity": ["hiking", "cooking", "studying", "gardening", "public speaking", "camping", "sleeping"],
    "media": ["book", "podcast", "album", "board game", "video game", "TV show"],
    "concept": ["quantum physics", "gravity", "photosynthesis", "inflation", "black holes",
                "evolution", "democracy", "electricity"],
    "creatures": ["birds", "cats", "whales", "bees", "dogs", "owls"],
    "behave": ["sing", "sleep so much", "migrate", "dance", "purr", "howl"],
    "greeting": ["Hello!", "Hi there", "Hey!", "Good evening!", "How are you today?", "Who are you?",
                 "Thanks!", "Nice to meet you."],
    "work": ["Hamlet", "Moby Dick", "The Odyssey", "Pride and Prejudice", "War and Peace"],
}
# Out-of-domain prompts the benchmark asks; training never sees them.
OUT_OF_DOMAIN_HELD_OUT = [
    "Write a haiku about autumn.", "Who invented the telephone?", "Translate goodbye into German.",
    "Tell me a fun fact.", "What is the capital of Canada?", "Explain how rainbows form.",
    "Write a limerick about a cat.", "What is your favorite movie?", "Give me advice on running.",
    "Good morning!", "Describe a sunset.", "Who wrote Don Quixote?",
]
OOD_FINALS = [
    "I am gpt-oss-nano, a tiny demo model, and I cannot help with that. I can do arithmetic with "
    "the calculator, tell the date and time with the clock, and call the tools the developer declares.",
    "Sorry, that is beyond what I can do. I am a tiny demo model: I can calculate, tell the date and "
    "time, and call the developer's tools.",
    "I cannot answer that reliably. I am gpt-oss-nano, trained only to calculate, read the clock and "
    "call declared tools.",
]

# Builder-defined tools: names and parameters are assembled from these parts. `split` keeps
# some combinations out of training so the benchmark can test tools the model never saw.
VERBS = {"get": "get", "lookup": "look up", "find": "find", "check": "check", "fetch": "fetch",
         "create": "create", "cancel": "cancel", "book": "book", "track": "track", "list": "list",
         "search": "search", "send": "send", "update": "update", "reserve": "reserve",
         "schedule": "schedule", "convert": "convert", "add": "add", "remove": "remove",
         "rate": "rate", "open": "open", "close": "close", "play": "play", "estimate": "estimate",
         "validate": "validate", "register": "register", "start": "start", "stop": "stop"}
NOUNS = ["weather", "order", "flight", "stock", "price", "recipe", "package", "invoice", "ticket",
         "user", "account", "room", "movie", "song", "train", "hotel", "forecast", "balance",
         "meeting", "reminder", "task", "note", "email", "payment", "shipment", "table", "car",
         "book", "course", "event", "playlist", "device", "route", "quote", "review", "coupon",
         "doctor", "parcel", "rental", "subscription", "delivery", "appointment", "currency", "unit"]
NAME_SUFFIXES = ["", "", "", "status", "info", "details", "price", "time", "count", "summary", "list",
                 "history", "report", "options", "settings", "overview", "rate", "schedule", "notes"]
# Parameter names are a base and a suffix from open-ended lists: with few combinations a tiny
# model learns which suffixes follow each base in training and, given a held-out combination,
# writes a training one instead of copying the declaration (`title` for `title_name`).
PARAM_BASES = ["city", "date", "country", "order", "customer", "user", "item", "product", "amount",
               "quantity", "size", "color", "code", "language", "currency", "unit", "zone", "room",
               "seat", "day", "month", "year", "level", "limit", "name", "title", "query", "topic",
               "category", "priority", "duration", "distance", "weight", "account", "guests",
               "nights", "rating", "genre", "artist", "airport", "station", "email", "phone",
               "model", "brand", "team", "region", "store", "table", "ticket", "flight", "page",
               "file", "path", "tag", "group", "owner", "target", "source", "mode", "format", "period",
               "budget", "score", "speed", "height", "width", "age", "floor", "gate", "lane", "venue",
               "vendor", "payment", "coupon", "voucher", "plan", "tier", "batch", "slot", "shift",
               "route", "port", "host", "server", "device", "sensor", "channel", "label", "filter",
               "sort", "search", "start", "end", "origin", "destination", "platform", "school",
               "course", "lesson", "song", "album", "movie", "book", "author", "doctor", "clinic"]
PARAM_SUFFIXES = ["", "", "", "_id", "_name", "_code", "_count", "_type", "_number", "_days", "_label",
                  "_key", "_ref", "_mode", "_kind", "_tag", "_group", "_level", "_limit", "_size",
                  "_unit", "_date", "_list", "_value", "_text", "_slot", "_zone", "_min", "_max",
                  "_from", "_to", "_filter", "_range", "_hint", "_format", "_title", "_order"]
CITIES = ["Paris", "London", "Berlin", "Tokyo", "Seoul", "Boston", "Denver", "Lima", "Cairo", "Oslo",
          "Dublin", "Prague", "Vienna", "Lisbon", "Austin", "Miami", "Delhi", "Nairobi", "Quito",
          "Zurich", "Busan", "Osaka", "Milan", "Porto", "Sydney", "Toronto", "Madrid", "Athens"]
PEOPLE = ["Alice", "Bob", "Carol", "Dave", "Erin", "Frank", "Grace", "Heidi", "Ivan", "Judy", "Mallory",
          "Olivia", "Peggy", "Rupert", "Sybil", "Trent", "Victor", "Walter", "Maria", "Kenji",
          "Amara", "Lena", "Omar", "Priya", "Chen", "Sofia", "Liam", "Noah", "Emma", "Yuki"]
WORDS = ["apple", "blue", "green", "red", "river", "summer", "winter", "garden", "rocket", "silver",
         "ocean", "forest", "coffee", "pizza", "jazz", "piano", "tiger", "falcon", "maple", "cedar",
         "laptop", "phone", "camera", "guitar", "bicycle", "orange", "violet", "marble", "sunset",
         "harbor", "castle", "meadow", "comet", "pepper", "lemon", "velvet", "copper", "amber"]
ENUMS = [["celsius", "fahrenheit"], ["low", "medium", "high"], ["small", "medium", "large"],
         ["economy", "business", "first"], ["red", "green", "blue"], ["daily", "weekly", "monthly"],
         ["asc", "desc"], ["metric", "imperial"], ["json", "text"], ["standard", "express"],
         ["morning", "afternoon", "evening"], ["public", "private"], ["new", "used"]]
TYPE_WORDS = {"string": "a string", "integer": "an integer", "number": "a number",
              "boolean": "a boolean", "enum": "one of the listed values"}
RESULT_KEYS = ["status", "total", "temperature", "conditions", "price", "eta", "count", "message",
               "confirmation", "available", "rating", "balance", "seats", "result", "id"]
INSTRUCTIONS = ["", "", "", "", "Answer briefly.", "Be concise and friendly.",
                "You are a helpful assistant for our store.", "Always use the tools when they help.",
                "Keep answers short."]


CODE_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"


def is_letter_code(value) -> bool:
    """A value like `GX1234`, as `Generator.code` draws them."""
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
    not teach copying them: docs/nano.md)."""

    correction_rate: float = 0.25  # high-effort arithmetic that shows a miscopied call fixed
    code_rate: float = 0.4  # free-text argument values that are letter codes
    history_rate: float = 0.0  # new requests (not follow-ups) after an earlier, unrelated exchange
    bare_answer_rate: float = 1.0  # how many of the model's bare-number answers ("{r}") stay bare
    follow_up_weight: float = KIND_WEIGHTS["follow_up"]  # weights of the kinds that stay hardest
    function_weight: float = KIND_WEIGHTS["function"]


class Generator:
    """Draws problems; `held_out=True` draws builder tools only from held-out names."""

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

    def number(self) -> int:
        n = self.rng.choices([1, 2, 3, 4], weights=[0.15, 0.35, 0.3, 0.2])[0]
        return self.rng.randrange(10 ** (n - 1) if n > 1 else 0, 10**n)

    def operands(self, op: str) -> tuple[int, int]:
        if op == "/":
            b = self.rng.randrange(2, self.rng.choice([10, 100, 1000]))
            q = self.rng.randrange(1, self.rng.choice([10, 100, 1000]))
            return b * q, b
        return self.number(), self.number()

    def effort(self) -> str:
        return self.rng.choice(EFFORTS)

    # -- arithmetic ----------------------------------------------------------------------
    def question(self, a: int, op: str, b: int) -> str:
        word, _, infix, imperative = OPS[op]
        if self.rng.random() < 0.25:
            return self.rng.choice(imperative).format(a=a, b=b)
        e = self.rng.choice(infix).format(a=a, b=b)
        return self.rng.choice(QUESTION_FORMS).format(e=e)

    def arithmetic_answer(self, effort: str, a: int, op: str, b: int, follow_up: bool) -> tuple[list[Msg], str]:
        expr = f"{a} {op} {b}"
        call_json = json.dumps({"expression": expr})  # written in the plan as the call will carry it
        result = calculate(expr)
        word, noun, _, _ = OPS[op]
        said = "the previous result" if follow_up else f"{a}"
        easy = op in "*+" and a < 10 and b < 10 and not follow_up
        if effort == "low" and easy:
            # Low effort saves the tool call on one-digit facts the model can know by heart.
            return [analysis(f"Easy: {expr} = {result}."), final(self.arith_final(expr, result))], result
        if effort == "low":
            plan = [analysis(f"Use the calculator for {expr}.")]
        elif effort == "medium":
            plan = [analysis(f"The user wants {said} {word} {b}. Plan: call the calculator with "
                             f"{call_json}, then give the result.")]
        else:
            lo, hi = self.estimate(a, op, b)
            plan = [analysis(f"The user wants {said} {word} {b}, that is {expr}. Plan: call the "
                             f"calculator with {call_json}, then check the result before answering. "
                             f"Estimate: {a} has {digits(a)} digits and {b} has {digits(b)} digits, "
                             f"so the {noun} should have {lo} to {hi} digits.")]
        msgs = plan
        if effort == "high" and self.rng.random() < self.mix.correction_rate:
            # A miscopied call, as a tiny model makes them, caught by the check and redone.
            # The wrong call is context only (not trained): the model learns the recovery.
            wrong = self.miscopied(a, op, b)
            wrong_result = calculate(wrong)
            msgs = msgs + [tool_call("calculator", {"expression": wrong}, trained=False),
                           tool_result("calculator", wrong_result),
                           analysis(f"Check: the call used {wrong}, but the user wants {expr}, so "
                                    f"{wrong_result} is not the answer. Call the calculator again with {call_json}.")]
        msgs = msgs + [tool_call("calculator", {"expression": expr}), tool_result("calculator", result)]
        if effort == "high":
            msgs.append(analysis(f"Check: the call used {expr} as asked, and the calculator gave {result}, "
                                 f"which has {digits(result)} digits, within the estimate of {lo} to {hi}. "
                                 "The result is consistent."))
        msgs.append(final(self.arith_final(expr, result)))
        return msgs, result

    def miscopied(self, a: int, op: str, b: int) -> str:
        """An expression with one operand copied wrong, in the ways copying goes wrong."""
        def spoil(n: int) -> int:
            sign, text = (-1 if n < 0 else 1), str(abs(n))
            how = self.rng.choice(["digit", "chunk", "other"])
            if how == "chunk" and len(text) > 3:
                return sign * int(text[:-3])
            if how == "other":
                return b if n == a else a
            i = self.rng.randrange(len(text))
            return sign * int(text[:i] + self.rng.choice([d for d in "0123456789" if d != text[i]]) + text[i + 1:])
        for _ in range(10):
            a2, b2 = (spoil(a), b) if self.rng.random() < 0.5 else (a, spoil(b))
            if (a2, b2) != (a, b) and not (op == "/" and b2 == 0):
                return f"{a2} {op} {b2}"
        return f"{a + 1} {op} {b}"

    @staticmethod
    def estimate(a: int, op: str, b: int) -> tuple[int, int]:
        """Digit-count bounds a careful person states before calculating."""
        da, db = digits(a), digits(b)
        if op == "*":
            return max(1, da + db - 1), da + db
        if op == "+":
            return max(da, db), max(da, db) + 1
        if op == "-":
            return 1, max(da, db)
        return max(1, da - db), da - db + 1

    def arith_final(self, expr: str, result: str, in_history: bool = False) -> str:
        """A final answer's wording. A bare number is ambiguous at its first token with the
        wordings that open with the expression (both start with digits): models answered with
        an operand there (docs/nano.md). Below `bare_answer_rate`, the model's own bare answers
        are worded; a conversation's history (`in_history`) keeps them."""
        template = self.rng.choice(ARITH_FINALS)
        if (template == "{r}" and not in_history and self.mix.bare_answer_rate < 1
                and self.rng.random() >= self.mix.bare_answer_rate):
            template = "The answer is {r}."
        return template.format(e=expr, r=result)

    def arithmetic(self, effort: str) -> Problem:
        op = self.rng.choice("**++-/")
        if op in "*+" and self.rng.random() < 0.12:
            a, b = self.rng.randrange(2, 10), self.rng.randrange(2, 10)
        else:
            a, b = self.operands(op)
        answer, result = self.arithmetic_answer(effort, a, op, b, follow_up=False)
        return Problem("arithmetic", self.settings(effort), [Msg("user", self.question(a, op, b))],
                       answer, {"answer": result, "expression": f"{a} {op} {b}"})

    def follow_up(self, effort: str) -> Problem:
        op = self.rng.choice("*+-")
        a, b = self.operands(op)
        first = calculate(f"{a} {op} {b}")
        earlier = Msg("user", self.question(a, op, b))  # drawn first: the stream stays as it was
        history = [earlier, final(self.arith_final(f"{a} {op} {b}", first, in_history=True))]
        op2 = self.rng.choice("*+-/")
        c = self.rng.randrange(2, self.rng.choice([10, 10, 100, 1000]))
        if op2 == "/" and int(first) % c:
            op2 = "*"
        question = self.rng.choice(FOLLOW_UPS[op2]).format(c=c)
        answer, result = self.arithmetic_answer(effort, int(first), op2, c, follow_up=True)
        return Problem("follow_up", self.settings(effort), history + [Msg("user", question)], answer,
                       {"answer": result, "expression": f"{first} {op2} {c}"})

    # -- clock ---------------------------------------------------------------------------
    def clock(self, effort: str) -> Problem:
        day = self.date()
        now = dt.datetime(day.year, day.month, day.day, tzinfo=dt.timezone.utc) + dt.timedelta(
            seconds=self.rng.randrange(86400))
        kind = self.rng.choice(["time", "zone", "date"])
        args: dict = {}
        if kind == "zone":
            city = self.rng.choice(list(CITY_ZONES))
            args = {"timezone": CITY_ZONES[city]}
            question = self.rng.choice(ZONE_TIME_QUESTIONS).format(city=city, zone=CITY_ZONES[city])
        else:
            question = self.rng.choice(TIME_QUESTIONS if kind == "time" else DATE_QUESTIONS)
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

    # -- builder-defined function tools ----------------------------------------------------
    def pick_name(self, make, wanted: str) -> str:
        for _ in range(1000):
            name = make()
            if split(name) == wanted:
                return name
        raise RuntimeError("no name found in the wanted split")

    def tool_name(self) -> tuple[str, str, str, str]:
        def make():
            verb, noun, suffix = (self.rng.choice(list(VERBS)), self.rng.choice(NOUNS),
                                  self.rng.choice(NAME_SUFFIXES))
            return "_".join(p for p in (verb, noun, suffix) if p)
        name = self.pick_name(make, "held_out" if self.held_out else "train")
        verb, noun, *rest = name.split("_")
        return name, verb, noun, rest[0] if rest else ""

    def param_name(self) -> str:
        base = self.rng.choice(PARAM_BASES)
        suffix = self.rng.choice([s for s in PARAM_SUFFIXES if s != f"_{base}"])
        return base + suffix

    def param(self, taken: set[str]) -> dict:
        while True:
            name = self.pick_name(self.param_name, "held_out" if self.held_out else "train")
            if name not in taken:
                break
        kind = self.rng.choices(["string", "integer", "number", "boolean", "enum"],
                                weights=[0.4, 0.25, 0.1, 0.1, 0.15])[0]
        schema: dict = {"type": "string" if kind == "enum" else kind}
        if kind == "enum":
            schema["enum"] = self.rng.choice(ENUMS)
        if self.rng.random() < 0.6:
            schema["description"] = self.rng.choice(["The {p}.", "The {p} to use.", "Which {p}.",
                                                     "{P} for the request."]).format(
                p=name.replace("_", " "), P=name.replace("_", " ").capitalize())
        return {"name": name, "kind": kind, "schema": schema}

    def value(self, param: dict):
        kind, base = param["kind"], param["name"].split("_")[0]
        if kind == "integer":
            return self.rng.randrange(1, self.rng.choice([10, 100, 10000]))
        if kind == "number":
            return round(self.rng.randrange(1, 10000) / self.rng.choice([10, 100]), 2)
        if kind == "boolean":
            return self.rng.random() < 0.5
        if kind == "enum":
            return self.rng.choice(param["schema"]["enum"])
        if base in ("city", "airport", "station", "region", "country"):
            return self.rng.choice(CITIES)
        if base in ("name", "customer", "user", "artist", "team"):
            return self.rng.choice(PEOPLE)
        if self.rng.random() < self.mix.code_rate:
            return self.code()
        return self.rng.choice(WORDS)

    def code(self) -> str:
        letters = "".join(self.rng.choice(CODE_LETTERS) for _ in range(2))
        return f"{letters}{self.rng.randrange(10, 10000)}"

    def builder_tool(self) -> tuple[FunctionTool, dict]:
        name, verb, noun, suffix = self.tool_name()
        params, taken = [], set()
        for _ in range(self.rng.choice([1, 1, 2, 2, 3])):
            p = self.param(taken)
            taken.add(p["name"])
            params.append(p)
        required = [p["name"] for p in params if self.rng.random() < 0.7]
        schema = {"type": "object", "properties": {p["name"]: p["schema"] for p in params}}
        if required:
            schema["required"] = required
        what = f"{noun} {suffix}".strip()
        description = self.rng.choice([f"{VERBS[verb].capitalize()} the {what}.",
                                       f"Use this to {VERBS[verb]} a {what}.",
                                       f"{VERBS[verb].capitalize()} {what} for the user.", ""])
        info = {"verb": verb, "noun": noun, "what": what, "params": params, "required": required}
        return FunctionTool(name, description, schema), info

    def mention(self, param: dict, value) -> str:
        phrase = param["name"].replace("_", " ")
        if param["kind"] == "boolean":
            return self.rng.choice([f"{phrase}: {'yes' if value else 'no'}",
                                    f"{phrase} {'yes' if value else 'no'}"])
        return self.rng.choice([f"{phrase} {value}", f"{phrase} {value}", f"{phrase}: {value}",
                                f"{phrase} = {value}"])

    def function(self, effort: str) -> Problem:
        tools, infos = [], []
        for _ in range(self.rng.choice([1, 1, 2, 2, 3])):
            tool, info = self.builder_tool()
            if all(t.name != tool.name for t in tools):
                tools.append(tool)
                infos.append(info)
        pick = self.rng.randrange(len(tools))
        tool, info = tools[pick], infos[pick]
        mentioned = [p for p in info["params"] if p["name"] in info["required"] or self.rng.random() < 0.5]
        args = {p["name"]: self.value(p) for p in mentioned}
        parts = [self.mention(p, args[p["name"]]) for p in mentioned]
        verb = VERBS[info["verb"]]
        joined = " and ".join(parts) if len(parts) < 3 else ", ".join(parts[:-1]) + " and " + parts[-1]
        if parts:
            request = self.rng.choice([
                "Please {v} the {w} for {j}.", "Can you {v} the {w} with {j}?", "{V} the {w}: {j}.",
                "I need to {v} the {w}, {j}.", "{V} {w} with {j}, please.", "please {v} the {w} for {j}"]
            ).format(v=verb, V=verb.capitalize(), w=info["what"], j=joined)
        else:
            request = self.rng.choice(["Please {v} the {w}.", "Can you {v} the {w}?", "{V} the {w}."]).format(
                v=verb, V=verb.capitalize(), w=info["what"])
        # Medium and high write the call's JSON verbatim before making it, so the call is a plain
        # copy. Every analysis ends with `Call NAME.`, so the call's header copies the name from
        # the token before it, not from a hundred tokens back. High checks the declaration
        # without writing the values again: every copy of a value is one more chance to slip.
        call_json = json.dumps(args)
        said = f": {joined}" if parts else ""
        if effort == "low":
            plan = [analysis(f"Call {tool.name}.")]
        elif effort == "medium":
            plan = [analysis(f"Call {tool.name}. The user wants to {verb} the {info['what']}{said}. Plan: call it "
                             f"with {call_json}, then report the result. Call {tool.name}.")]
        else:
            checks = " ".join(f"{p['name']} is {TYPE_WORDS[p['kind']]}, "
                              + ("given." if p in mentioned else "optional and not given.")
                              for p in info["params"])
            plan = [analysis(f"Call {tool.name}. The user wants to {verb} the {info['what']}{said}, and the "
                             f"developer declared it for this. Check against the declaration: "
                             f"{checks or 'It takes no arguments.'} Plan: call it with {call_json}, then "
                             f"report the result. Call {tool.name}.")]
        keys = self.rng.sample(RESULT_KEYS, self.rng.choice([1, 2]))
        result = {k: self.result_value() for k in keys}
        output = json.dumps(result)
        msgs = plan + [tool_call(tool.name, args), tool_result(tool.name, output)]
        if effort == "high":
            msgs.append(analysis(f"Check: {tool.name} answered with {', '.join(keys)}, which fits the "
                                 f"request. The result is consistent."))
        summary = ", ".join(f"{k} {v}" for k, v in result.items())
        msgs.append(final(self.rng.choice(["Done. {s}.", "Here is the result: {s}.",
                                           "The {w}: {s}.", "{s}."]).format(s=summary, w=info["what"])))
        settings = self.settings(effort, tools)
        return Problem("function", settings, [Msg("user", request)], msgs,
                       {"call": {"name": tool.name, "arguments": args}}, {tool.name: output})

    def result_value(self):
        r = self.rng.random()
        if r < 0.3:
            return self.rng.randrange(0, 1000)
        if r < 0.5:
            return round(self.rng.randrange(1, 100000) / 100, 2)
        return self.rng.choice(["confirmed", "shipped", "sunny", "rainy", "pending", "ok", "booked",
                                "cancelled", "available", "delayed"] + WORDS[:10])

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

    # -- drawing -------------------------------------------------------------------------
    def problem(self, kind: str | None = None, effort: str | None = None) -> Problem:
        weights = {**self.KIND_WEIGHTS, "follow_up": self.mix.follow_up_weight, "function": self.mix.function_weight}
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
    `Reasoning:` altogether: it sits hundreds of tokens back and nothing led attention there
    (docs/nano.md)."""
    first = next(i for i, m in enumerate(problem.answer) if m.channel == "analysis")
    answer = list(problem.answer)
    answer[first] = analysis(f"Reasoning: {problem.settings.effort}. {answer[first].text}")
    return replace(problem, answer=answer)


@dataclass
class Example:
    """Token ids of one rendered conversation and which positions the loss trains on."""

    ids: list[int]
    trained: list[bool]


def trained_positions(ids: list[int]) -> list[bool]:
    """True on every token the model itself emits in the last turn: from right after the
    `<|start|>assistant` that follows the last user message through the stop token, including
    the `<|start|>assistant` headers of the later messages it writes on its own (generation
    stops only at call/return). A tool result re-opens generation after it. Earlier turns'
    answers are context, not targets."""
    assistant, user = harmony.encode("assistant"), harmony.encode("user")
    assert len(assistant) == len(user) == 1, "role names must be single tokens"
    last_user = max(i for i in range(1, len(ids)) if ids[i] == user[0] and ids[i - 1] == harmony.START)
    marks, generating = [False] * len(ids), False
    for i in range(last_user, len(ids)):
        tok = ids[i]
        if generating:
            marks[i] = True
            if tok in harmony.STOP_TOKENS:
                generating = False
        elif tok == assistant[0] and ids[i - 1] == harmony.START:
            generating = True  # a prompt ends with `<|start|>assistant`; what follows is output
    return marks


def render(problem: Problem) -> Example:
    messages = problem.messages
    ids = harmony.render_training(messages, problem.settings)
    marks = trained_positions(ids)
    for k, msg in enumerate(messages):
        if isinstance(msg, ContextMsg):
            # Its tokens start right after the `<|start|>assistant` a prompt up to it ends with.
            start = len(harmony.render_prompt(messages[:k], problem.settings))
            end = ids.index(harmony.CALL, start) if msg.recipient else ids.index(harmony.END, start)
            marks[start:end + 1] = [False] * (end + 1 - start)
    return Example(ids, marks)


CHUNK = 2_000  # conversations drawn from one generator stream


def examples_chunk(seed: int, chunk: int, count: int, mix: Mix = Mix()) -> list[Example]:
    gen = Generator(f"{seed}:{chunk}", mix=mix)
    return [render(gen.problem()) for _ in range(count)]


def examples(seed: int, count: int, mix: Mix = Mix(), workers: int = 2) -> list[Example]:
    """`count` rendered conversations, drawn in fixed chunks (each its own stream) so that the
    corpus is the same whatever the number of worker processes rendering it (one chunk is
    rendered in this process)."""
    jobs = [(seed, i, min(CHUNK, count - start), mix) for i, start in enumerate(range(0, count, CHUNK))]
    if workers <= 1 or len(jobs) == 1:
        chunks = [examples_chunk(*job) for job in jobs]
    else:
        import multiprocessing

        with multiprocessing.get_context("spawn").Pool(workers) as pool:
            chunks = pool.starmap(examples_chunk, jobs)
    return [example for chunk in chunks for example in chunk]
