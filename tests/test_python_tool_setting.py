"""GPTOSS_PYTHON_TOOL: the python tool is off unless an admin sets it (parsed strictly); on, the
site offers it and validates turns with it, and where no sandbox can start it stays off and
says why (`manage.py check`, and the answer to a turn that asks for it)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core import checks
from django.test import Client

from inference.tools import registry
from inference.tools.sandbox import Sandbox, SandboxUnavailable
from webapp.chat import frames
from webapp.chat.apps import configure_python_tool, python_tool_check

ROOT = Path(__file__).resolve().parent.parent


def setting_with(**env):
    clean = {k: v for k, v in os.environ.items() if k != "GPTOSS_PYTHON_TOOL"}
    return subprocess.run([sys.executable, "-c", "import webapp.settings as s; print(s.GPTOSS_PYTHON_TOOL)"],
                          cwd=ROOT, env={**clean, **env}, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("value, parsed", [(None, "False"), ("1", "True"), ("off", "False")])
def test_the_setting_is_off_unless_set(value, parsed):
    done = setting_with(**({} if value is None else {"GPTOSS_PYTHON_TOOL": value}))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == parsed


def test_a_value_it_cannot_read_stops_the_process():
    done = setting_with(GPTOSS_PYTHON_TOOL="maybe")
    assert done.returncode != 0
    assert "GPTOSS_PYTHON_TOOL='maybe': use one of 1/0, true/false, yes/no, on/off" in done.stderr


@pytest.fixture
def python_setting(settings):
    """Sets GPTOSS_PYTHON_TOOL for a test, as the app does at start; off again afterwards."""
    def configure(on: bool):
        settings.GPTOSS_PYTHON_TOOL = on
        configure_python_tool()
    yield configure
    settings.GPTOSS_PYTHON_TOOL = False
    configure_python_tool()


def turn_settings(raw):
    return frames.turn_settings(raw, max_output_tokens=1024, max_text_chars=1000)


def test_off_a_turn_asking_for_python_is_refused_saying_why(python_setting):
    python_setting(False)
    assert turn_settings(None)["builtin_tools"] == ["calculator", "clock"]
    with pytest.raises(frames.FrameError) as refused:
        turn_settings({"builtin_tools": ["python"]})
    assert refused.value.code == "invalid"
    assert refused.value.message == ("built-in tool 'python' is unavailable: it is off on this server "
                                     "(an admin enables it: GPTOSS_PYTHON_TOOL=1)")
    assert python_tool_check() == []


def test_on_python_is_offered_and_declared_per_turn(python_setting):
    try:
        Sandbox.find()
    except SandboxUnavailable as exc:
        pytest.skip(f"no sandbox here: {exc}")
    python_setting(True)
    assert turn_settings(None)["builtin_tools"] == ["calculator", "clock", "python"]
    assert turn_settings({"builtin_tools": ["calculator"]})["builtin_tools"] == ["calculator"]
    assert python_tool_check() == []


def test_on_without_a_sandbox_it_stays_off_and_check_says_why(python_setting, monkeypatch, caplog):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    python_setting(True)
    assert "python" not in registry.names()
    assert "GPTOSS_PYTHON_TOOL=1 but the python tool stays off: bubblewrap (bwrap) is not installed" in caplog.text
    [warning] = python_tool_check()
    assert warning.id == "chat.W001" and warning.level == checks.WARNING
    assert "bubblewrap (bwrap) is not installed: apt-get install bubblewrap" in warning.msg
    with pytest.raises(frames.FrameError, match="no sandbox can start here"):
        turn_settings({"builtin_tools": ["python"]})


@pytest.mark.django_db
def test_the_chat_page_offers_python_only_when_it_is_on(python_setting, monkeypatch):
    client = Client()
    client.force_login(get_user_model().objects.create_user(username="ada", password="pw-ada-1234"))
    box = 'name="builtin_tools" value="python"'
    python_setting(False)
    assert box not in client.get("/").content.decode()
    monkeypatch.setattr(Sandbox, "find", classmethod(lambda cls, *a, **k: cls("/usr/bin/bwrap", "/usr/bin/python3")))
    python_setting(True)
    assert box in client.get("/").content.decode()


@pytest.mark.django_db
def test_a_stored_turn_that_called_python_replays_as_streamed(monkeypatch, live_state):
    """Run and stored by the worker's own code; the code `42` is valid JSON, and still shown as
    the code it is, live and replayed."""
    from tests.scripted_engine import ScriptedEngine, final_answer
    from tests.factories import make_turn, merged
    from inference import events
    from inference.tools import python
    from tests.factories import frame_log
    from webapp.chat import tasks, worker
    from webapp.chat.models import Turn
    from webapp.chat.replay import turn_frames

    try:
        sandbox = Sandbox.find()
    except SandboxUnavailable as exc:
        pytest.skip(f"no sandbox here: {exc}")
    registry.register(python.PythonTool(sandbox))
    try:
        turn = make_turn(settings={"builtin_tools": ["python"]})
        engine = ScriptedEngine("<|channel|>analysis to=python code<|message|>42<|call|>",
                                final_answer("It printed 42."))
        monkeypatch.setattr(worker, "_engine", engine)
        tasks.execute(turn.id, "w1", resume=False)
    finally:
        python.disable()
    streamed = [events.turn_queued(turn.request_id, turn.conversation_id, turn.id, 0)] + [
        {k: v for k, v in f.items() if k != "seq"} for f in frame_log(turn.id)]
    replayed = turn_frames(Turn.objects.get(id=turn.id))

    assert merged(replayed) == merged(streamed)
    [call] = [f for f in replayed if f["type"] == "tool.call"]
    [result] = [f for f in replayed if f["type"] == "tool.result"]
    assert (call["name"], call["arguments"], result["output"]) == ("python", "42", "42\n")
    assert replayed[-1]["status"] == "completed"
