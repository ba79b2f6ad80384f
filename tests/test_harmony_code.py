"""Copy as code (inference/harmony_code.py): the Python snippet of a turn's prompt, run by the
project's python with nothing but openai-harmony, renders exactly the token ids of the turn's
last generation as the timeline rebuilt them, and prints exactly its harmony text."""

import json
import os
import subprocess
import sys

import pytest

from inference import harmony, harmony_code, timeline, vocab
from inference.turn import run_turn
from scripted_engine import ScriptedEngine, calculator_call, final_answer

WEATHER = harmony.FunctionTool("get_weather", "Weather in a city, 'quoted' and \"double\".",
                               {"type": "object", "properties": {"city": {"type": "string"},
                                                                 "metric": {"type": "boolean"}},
                                "required": ["city"]})


def run_snippet(code: str) -> tuple[list[int], str]:
    """The snippet's `tokens` and what it printed, run as a script of its own."""
    dump = "\nimport json, sys\nprint(json.dumps(list(tokens)), file=sys.stderr)\n"
    env = {**os.environ, "TIKTOKEN_ENCODINGS_BASE": str(vocab.ensure_vocab().parent)}  # offline
    run = subprocess.run([sys.executable, "-c", code + dump], capture_output=True, text=True,
                         env=env, timeout=120, cwd="/")
    assert run.returncode == 0, run.stderr[-2000:]
    return json.loads(run.stderr.strip().splitlines()[-1]), run.stdout


def snippet_and_timeline(history, settings, *completions):
    engine = ScriptedEngine(*completions)
    result = run_turn(engine, history, settings, lambda frame: None, turn_id=3)
    built = timeline.build(history, [timeline.Stored(m.index, m.to_msg(), m.token_ids)
                                     for m in result.messages], settings)
    return harmony_code.python_snippet(built.last_given, settings, "test"), built, engine


def test_the_snippet_renders_the_last_generation_of_a_tool_turn_token_for_token():
    history = [harmony.Msg(role="user", text="Hi 'there'\n\"friend\""),
               harmony.Msg(role="assistant", channel="final", text="Hello! 👋"),
               harmony.Msg(role="user", text="What is 12 * 34?")]
    settings = harmony.TurnSettings(effort="low", developer_instructions="Be brief.\nUse tools.",
                                    tools=[WEATHER], builtin_tools=["calculator", "clock"],
                                    date="2025-12-31")
    code, built, engine = snippet_and_timeline(history, settings, calculator_call("12 * 34"),
                                               final_answer("408"))
    ids, printed = run_snippet(code)
    assert ids == built.last_prompt == engine.prompts[-1]
    assert printed == harmony.decode(built.last_prompt) + "\n"
    assert "ReasoningEffort.LOW" in code and "functions.calculator" in code


def test_the_snippet_of_a_plain_turn_has_no_developer_message():
    history = [harmony.Msg(role="user", text="Hi")]
    settings = harmony.TurnSettings(effort="medium", date="2026-01-02")
    code, built, _ = snippet_and_timeline(history, settings, final_answer("Hello."))
    ids, _ = run_snippet(code)
    assert ids == built.last_prompt and "DeveloperContent.new()" not in code


class DeclaredPython:
    """A system tool as the python tool declares itself (its sandbox is not needed to render)."""

    name = "python"

    def declaration(self):
        return harmony.SystemTool("python", "Runs 'code' in a sandbox.\nIt times out after 5 s.")


def test_the_snippet_declares_a_system_tool_in_the_system_message(monkeypatch):
    from inference.tools import registry

    monkeypatch.setattr(registry, "_tools", {**registry._tools, "python": DeclaredPython()})
    settings = harmony.TurnSettings(effort="high", builtin_tools=["python"], date="2026-02-03")
    code, built, _ = snippet_and_timeline([harmony.Msg(role="user", text="Hi")], settings,
                                          final_answer("Hello."))
    ids, _ = run_snippet(code)
    assert ids == built.last_prompt and "ToolNamespaceConfig(name='python'" in code
    assert "DeveloperContent.new()" not in code


def test_a_snippet_needs_the_date_it_was_rendered_with():
    with pytest.raises(ValueError, match="date"):
        harmony_code.python_snippet([harmony.Msg(role="user", text="Hi")], harmony.TurnSettings(), "t")
