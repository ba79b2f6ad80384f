"""`chat --functions FILE` answers a builder function call from stdin and resumes the turn;
at the end of stdin the turn ends cancelled with no_tool_output, still with turn.done."""

import io
import json

from scripted_engine import ScriptedEngine, final_answer

from inference import __main__ as cli
from inference import engine as engine_module

CALL = ("<|channel|>commentary to=functions.get_weather <|constrain|>json"
        '<|message|>{"city": "Paris"}<|call|>')
WEATHER = [{"name": "get_weather", "description": "Current weather in a city.",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}]


def chat_with_stdin(monkeypatch, tmp_path, capsys, stdin):
    functions = tmp_path / "functions.json"
    functions.write_text(json.dumps(WEATHER))
    monkeypatch.setattr(engine_module.Engine, "load", classmethod(
        lambda cls, path=None, device=None: ScriptedEngine(CALL, final_answer("Sunny, 18 °C."))))
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    status = cli.main(["chat", "Weather in Paris?", "--functions", str(functions), "--json"])
    return status, [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_function_output_read_from_stdin_resumes_the_turn(monkeypatch, tmp_path, capsys):
    status, frames = chat_with_stdin(monkeypatch, tmp_path, capsys, "18 °C, sunny\n")

    assert status == 0
    kinds = [f["type"] for f in frames]
    assert kinds.index("tool.awaiting") < kinds.index("turn.done") == len(kinds) - 1
    tool_start = next(f for f in frames if f["type"] == "message.start" and f["role"] == "tool")
    assert tool_start["index"] == 1 and tool_start["author"] == "functions.get_weather"
    assert {"type": "message.delta", "turn_id": 1, "index": 1, "text": "18 °C, sunny"} in frames
    assert frames[-1]["status"] == "completed" and frames[-1]["metrics"]["tool_calls"] == 1


def test_end_of_stdin_ends_the_turn_with_turn_done(monkeypatch, tmp_path, capsys):
    status, frames = chat_with_stdin(monkeypatch, tmp_path, capsys, "")

    assert status == 0
    assert frames[-1]["type"] == "turn.done" and frames[-1]["status"] == "cancelled"
    assert frames[-1]["error"]["code"] == "no_tool_output"
