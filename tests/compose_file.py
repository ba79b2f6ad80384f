"""docker-compose.yml as the tests read it: its services, each one's command, and its
environment with compose's interpolation applied (defaults; a stand-in for required values)."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
INTERPOLATION = re.compile(r"\$\{(\w+)(?::?([-?])([^}]*))?\}")


def interpolate(value: str) -> str:
    """Compose's ${VAR:-default} with defaults; ${VAR:?message} with a stand-in value."""
    def one(match):
        name, kind, rest = match.groups()
        if kind == "-":
            return rest
        return f"compose-test-{name.lower()}"
    return INTERPOLATION.sub(one, value)


def command(service: str) -> list[str]:
    cmd = SERVICES[service]["command"]
    return cmd if isinstance(cmd, list) else cmd.split()


def environment(service: str) -> dict[str, str]:
    return {k: interpolate(str(v)) for k, v in SERVICES[service]["environment"].items()}
