"""The `clock` tool: the current date and time, in UTC or an IANA time zone."""

from __future__ import annotations

import datetime as dt
import zoneinfo

from ..harmony import FunctionTool


def format_time(moment: dt.datetime, zone_name: str) -> str:
    """`2025-06-01 14:03:22 Sunday, Europe/Paris (UTC+02:00)`: one line a model can copy from."""
    offset = moment.strftime("%z")
    offset = f"{offset[:3]}:{offset[3:]}"
    return f"{moment:%Y-%m-%d %H:%M:%S %A}, {zone_name} (UTC{offset})"


def zone(name: str) -> dt.tzinfo:
    """The zone called `name`; raises ValueError naming the problem."""
    if name.upper() == "UTC":
        return dt.timezone.utc
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r} (use an IANA name such as Europe/Paris)") from None


class Clock:
    name = "clock"

    def __init__(self, now=lambda: dt.datetime.now(dt.timezone.utc)):
        self._now = now  # an aware datetime; replaceable so that tests and data are reproducible

    def declaration(self) -> FunctionTool:
        return FunctionTool(
            name=self.name,
            description=(
                "Returns the current date, time and weekday. Without a time zone the answer "
                "is in UTC."
            ),
            parameters={
                "type": "object",
                "properties": {
                    "timezone": {
                        "type": "string",
                        "description": "An IANA time zone such as Europe/Paris or Asia/Seoul",
                    }
                },
            },
        )

    def run(self, arguments: dict) -> str:
        name = arguments.get("timezone") or "UTC"
        if not isinstance(name, str):
            return "error: 'timezone' must be a string"
        try:
            tz = zone(name.strip())
        except ValueError as exc:
            return f"error: {exc}"
        return format_time(self._now().astimezone(tz), name.strip())
