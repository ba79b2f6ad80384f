"""Arithmetic conversations: a request (`What's 87 times 102?`, `Subtract 5 from 31.`), the
analysis the effort asks for, the calculator call with the operands copied, and the result
copied into the final answer; and follow-ups (`And times 3?`) on an earlier answer.

At high effort the plan states the number of digits the result must have, and after the tool
result a check compares the call with the request and the result with the estimate. A share
of high-effort conversations (`Mix.correction_rate`) shows a miscopied call, noticed by the
check and called again; the miscopied call is context only (not trained), so the model learns
to recover, never to err.
"""

from __future__ import annotations

import json
import math

from ..harmony import Msg
from ..tools.calculator import calculate
from .problems import Problem, analysis, digits, final, tool_call, tool_result
from .wordings import (ARITH_FINALS, EVERYDAY_OPS, FILLER_AFTER, FILLER_BEFORE, FOLLOW_UPS, HALF_REQUESTS, OPS,
                       PERCENT_REQUESTS, POWER_REQUESTS, QUESTION_FORMS, SQUARE_REQUESTS, UNIT_DOWN_REQUESTS,
                       UNIT_UP_REQUESTS, UNITS)

# Requests as people type them, by form (`ArithmeticProblems.everyday`); the benchmark's
# held-out wordings have the same shape (`held_out.py`).
EVERYDAY = {"ops": EVERYDAY_OPS, "percent": PERCENT_REQUESTS, "power": POWER_REQUESTS, "square": SQUARE_REQUESTS,
            "half": HALF_REQUESTS, "unit_down": UNIT_DOWN_REQUESTS, "unit_up": UNIT_UP_REQUESTS}


class ArithmeticProblems:
    """The arithmetic and follow-up kinds of `Generator` (which holds `rng`, `mix`, `settings`)."""

    def number(self) -> int:
        n = self.rng.choices([1, 2, 3, 4], weights=[0.15, 0.35, 0.3, 0.2])[0]
        return self.rng.randrange(10 ** (n - 1) if n > 1 else 0, 10**n)

    def operands(self, op: str) -> tuple[int, int]:
        if op == "/":
            b = self.rng.randrange(2, self.rng.choice([10, 100, 1000]))
            q = self.rng.randrange(1, self.rng.choice([10, 100, 1000]))
            return b * q, b
        return self.number(), self.number()

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
        # Low effort saves the tool call on one-digit facts the model can know by heart; its memory
        # of them is not reliable, so a recipe can turn this off (`by_heart_rate`). A number is
        # drawn only for such a fact and a rate below 1: the corpora drawn before stay the same.
        if effort == "low" and easy and (self.mix.by_heart_rate == 1
                                         or self.rng.random() < self.mix.by_heart_rate):
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
        an operand there. Below `bare_answer_rate`, the model's own bare answers
        are worded; a conversation's history (`in_history`) keeps them."""
        template = self.rng.choice(ARITH_FINALS)
        if (template == "{r}" and not in_history and self.mix.bare_answer_rate < 1
                and self.rng.random() >= self.mix.bare_answer_rate):
            template = "The answer is {r}."
        return template.format(e=expr, r=result)

    def arithmetic(self, effort: str) -> Problem:
        if self.mix.everyday_rate and self.rng.random() < self.mix.everyday_rate:
            return self.everyday(effort)
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


    # -- everyday requests (`Mix.everyday_rate`) ----------------------------------------------
    def everyday(self, effort: str, wordings: dict = EVERYDAY, noise: bool = True) -> Problem:
        """A request worded as people type it: the four operations in whole-request wordings,
        percentages, powers, halves and unit conversions, with filler and typos (`noise`).
        The calculator computes each; the answer copies its result."""
        form = self.rng.choice([f for f in ("ops", "ops", "ops", "percent", "power", "square", "half",
                                            "unit_down", "unit_down", "unit_up") if f in wordings])
        if self.mix.unit_rate and self.rng.random() < self.mix.unit_rate and "unit_up" in wordings:
            form = self.rng.choice(["unit_down", "unit_down", "unit_up"])
        if form == "ops":
            op = self.rng.choice("**++-/")
            a, b = ((self.rng.randrange(2, 13), self.rng.randrange(2, 13)) if self.rng.random() < 0.2
                    else self.operands(op))
            question = self.rng.choice(wordings["ops"][op]).format(a=a, b=b)
            answer, result = self.arithmetic_answer(effort, a, op, b, follow_up=False)
            expr = f"{a} {op} {b}"
        else:
            question, expr, said = self.everyday_request(form, wordings[form])
            answer, result = self.expression_answer(effort, expr, said)
        if noise:
            question = self.noisy(question)
        return Problem("arithmetic", self.settings(effort), [Msg("user", question)], answer,
                       {"answer": result, "expression": expr})

    def everyday_request(self, form: str, templates: list[str]) -> tuple[str, str, str]:
        """(request, expression, what the analysis says the user wants) for a form beyond the four
        operations."""
        template = self.rng.choice(templates)
        if form == "percent":
            p = self.rng.choice([5, 10, 15, 20, 25, 30, 40, 50, 75, self.rng.randrange(1, 100)])
            n = self.number() or 80
            return template.format(p=p, n=n), f"{n} * {p} / 100", f"{p} percent of {n}"
        if form in ("power", "square"):
            a = self.rng.randrange(2, 13) if form == "power" else self.rng.randrange(2, 100)
            # results of at most 7 digits: the same numbers as the four operations give
            b = 2 if form == "square" else self.rng.randrange(2, min(10, int(7 / math.log10(a))) + 1)
            return template.format(a=a, b=b), f"{a} ** {b}", f"{a} to the power of {b}"
        if form == "half":
            a = self.number() or 2
            return template.format(a=a), f"{a} / 2", f"half of {a}"
        big, small, factor = self.rng.choice(UNITS)
        if form == "unit_down":
            q = self.rng.randrange(1, 100)
            return (template.format(q=q, big=big, small=small), f"{q} * {factor}",
                    f"{q} {big} in {small}, {factor} {small} each")
        q = factor * self.rng.randrange(1, 50)
        return (template.format(q=q, big=big, small=small), f"{q} / {factor}",
                f"{q} {small} in {big}, {factor} {small} each")

    def expression_answer(self, effort: str, expr: str, said: str) -> tuple[list[Msg], str]:
        """The analysis, call and answer for an expression the request does not spell out."""
        call_json = json.dumps({"expression": expr})
        result = calculate(expr)
        if effort == "low":
            msgs = [analysis(f"Use the calculator for {expr}.")]
        else:
            then = "give the result." if effort == "medium" else "check the result before answering."
            msgs = [analysis(f"The user wants {said}, that is {expr}. Plan: call the calculator with "
                             f"{call_json}, then {then}")]
        msgs += [tool_call("calculator", {"expression": expr}), tool_result("calculator", result)]
        if effort == "high":
            msgs.append(analysis(f"Check: the call used {expr} for {said}, and the calculator gave "
                                 f"{result}. The result is consistent."))
        msgs.append(final(self.arith_final(expr, result)))
        return msgs, result

    def noisy(self, text: str) -> str:
        """The request as people type it: half the time with filler around it, a lower-case
        start, no end punctuation or one word mistyped (numbers are never touched)."""
        if self.rng.random() < 0.5:
            return text
        if self.rng.random() < 0.4:
            text = self.rng.choice(FILLER_BEFORE) + text[0].lower() + text[1:]
        if self.rng.random() < 0.3:
            text = text.rstrip(".?!") + self.rng.choice(FILLER_AFTER)
        if self.rng.random() < 0.3:
            text = text[0].lower() + text[1:]
        if self.rng.random() < 0.3:
            words = text.split(" ")
            long = [i for i, w in enumerate(words) if len(w) >= 4 and w.isalpha()]
            if long:
                i = self.rng.choice(long)
                w, k = words[i], self.rng.randrange(1, len(words[i]) - 2)
                words[i] = w[:k] + w[k + 1] + w[k] + w[k + 2:] if self.rng.random() < 0.5 else w[:k] + w[k + 1:]
                text = " ".join(words)
        return text
