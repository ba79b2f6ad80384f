"""Builder-function conversations: one to three developer-declared tools with generated names
(`verb_noun[_suffix]`), descriptions and parameters; a request that names the values; the call
with exactly the mentioned arguments; the (generated) result summarised in the answer.

Names are assembled from the parts in `wordings`, and `split` keeps a fifth of the
combinations for the benchmark (`held_out`), so its "unseen" rows call tools and parameters
that training never saw.
"""

from __future__ import annotations

import json

from ..harmony import FunctionTool, Msg
from .problems import Problem, analysis, final, split, tool_call, tool_result
from .wordings import (CITIES, CODE_LETTERS, ENUMS, MORE_CITY_ZONES, NAME_SUFFIXES, NATURAL_BASES, NATURAL_REQUESTS,
                       NOUNS, PARAM_BASES, PARAM_SUFFIXES, PEOPLE, RESULT_KEYS, TYPE_WORDS, VERBS, WORDS)


class BuilderTools:
    """The builder-function kind of `Generator` (which holds `rng`, `mix`, `held_out`, `settings`)."""

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
        if self.mix.natural_rate and self.rng.random() < self.mix.natural_rate:
            return self.natural_function(effort)
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
        return self.function_answer(effort, tools, tool, info, args, mentioned, joined, request)

    def function_answer(self, effort: str, tools: list[FunctionTool], tool: FunctionTool, info: dict, args: dict,
                        mentioned: list[dict], joined: str, request: str) -> Problem:
        """The analysis, the call of `tool` with `args`, its (generated) result and the answer."""
        verb, parts = VERBS[info["verb"]], bool(mentioned)
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

    # -- requests that state a value without naming its parameter (`Mix.natural_rate`) -------
    def natural_function(self, effort: str, requests: dict = NATURAL_REQUESTS) -> Problem:
        """`What's the weather in Lisbon?` to a declared `get_weather(city)`: the tool's one
        required string parameter takes a city, a name or an id (with dashes and digits) that
        the request states in its own words; the call copies it. Another tool may be declared."""
        kind = self.rng.choice(list(requests))
        name, verb, noun, suffix = self.tool_name()
        wanted = "held_out" if self.held_out else "train"
        base = self.rng.choice(NATURAL_BASES[kind])
        param = {"name": self.pick_name(lambda: base + self.rng.choice(PARAM_SUFFIXES), wanted),
                 "kind": "string", "schema": {"type": "string"}}
        if self.rng.random() < 0.6:
            param["schema"]["description"] = f"The {param['name'].replace('_', ' ')}."
        params = [param] + ([self.param({param["name"]})] if self.rng.random() < 0.3 else [])
        what = f"{noun} {suffix}".strip()
        schema = {"type": "object", "properties": {p["name"]: p["schema"] for p in params}, "required": [param["name"]]}
        tool = FunctionTool(name, self.rng.choice([f"{VERBS[verb].capitalize()} the {what}.", ""]), schema)
        info = {"verb": verb, "noun": noun, "what": what, "params": params, "required": [param["name"]]}
        tools = [tool]
        if self.rng.random() < 0.4:
            other, _ = self.builder_tool()
            if other.name != name:
                tools.insert(self.rng.randrange(2), other)
        value = self.natural_value(kind)
        request = self.rng.choice(requests[kind]).format(
            v=value, what=what, What=what.capitalize(), verb=VERBS[verb], Verb=VERBS[verb].capitalize())
        joined = f"{param['name'].replace('_', ' ')} {value}"
        return self.function_answer(effort, tools, tool, info, {param["name"]: value}, [param], joined, request)

    def natural_value(self, kind: str) -> str:
        if kind == "city":
            return self.rng.choice(CITIES + list(MORE_CITY_ZONES))
        if kind == "person":
            return self.rng.choice(PEOPLE)
        letters = "".join(self.rng.choice(CODE_LETTERS) for _ in range(self.rng.choice([2, 3])))
        return self.rng.choice([
            self.code(), f"{letters}-{self.rng.randrange(10, 100000)}",
            f"{self.rng.randrange(1000, 10000)}-{self.rng.randrange(1000, 10000)}-{self.rng.randrange(10)}",
            f"{self.rng.randrange(100, 1000)}-{self.rng.randrange(100, 1000)}",
            f"{letters[0]}{self.rng.randrange(10)}-{self.rng.randrange(10, 100)}-{letters[-1]}"])

    def result_value(self):
        r = self.rng.random()
        if r < 0.3:
            return self.rng.randrange(0, 1000)
        if r < 0.5:
            return round(self.rng.randrange(1, 100000) / 100, 2)
        return self.rng.choice(["confirmed", "shipped", "sunny", "rainy", "pending", "ok", "booked",
                                "cancelled", "available", "delayed"] + WORDS[:10])

