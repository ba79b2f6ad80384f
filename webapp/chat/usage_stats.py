"""Usage figures drawn from stored turns: tokens per channel per day, median time to first
token and decode speed per model and engine, the effort mix per model, and lint findings per
model. The figures come from each finished turn's `metrics` (docs/protocol.md) and are
counted by the day the turn was queued.

Sums and counts are done by the database (JSON key lookups, which PostgreSQL and SQLite both
have); a median is read there too, as the middle one or two values of the sorted figures, so
no query loads a whole column. The callers bound the work: a date range of at most MAX_DAYS
and at most MAX_SPEED_GROUPS model/engine pairs (two median queries each).
"""

from __future__ import annotations

import datetime
from collections import Counter

from django.db.models import Count, F, FloatField, Func, Sum, TextField
from django.db.models.functions import TruncDate
from django.utils import timezone

from inference.harmony import EFFORTS
from inference.lint import CODES

from .models import Turn

CHANNELS = ("analysis", "commentary", "final")
MAX_DAYS = 366
MAX_SPEED_GROUPS = 20
SPEEDS = ("ttft_ms", "decode_tokens_per_s")
UNKNOWN = "unknown"  # the label of a turn whose model or engine was not recorded


class Metric(Func):
    """The value at `path` (keys joined by __) of a turn's metrics, as SQL: null where the key
    is absent or its value is JSON null. (Django's KT reads a JSON null as the text 'null' on
    SQLite, which casts to 0 and would count as a measured 0 ms.)"""

    def __init__(self, path: str, output_field=None):
        super().__init__(F("metrics"), output_field=output_field or FloatField())
        self.keys = path.split("__")

    def as_sqlite(self, compiler, connection, **extra):
        sql, params = compiler.compile(self.source_expressions[0])
        path = "$" + "".join(f'."{key}"' for key in self.keys)
        return f"JSON_EXTRACT({sql}, %s)", [*params, path]

    def as_postgresql(self, compiler, connection, **extra):
        sql, params = compiler.compile(self.source_expressions[0])
        cast = self.output_field.cast_db_type(connection)
        return f"CAST(({sql} #>> %s) AS {cast})", [*params, self.keys]


def finished_turns(since: datetime.date, until: datetime.date, model: str | None = None):
    """Turns that ended with metrics, queued from the start of `since` to the end of `until`
    (the site's time zone), of one model if given. The status filter lets the database use
    the (status, queued_at) index."""
    start, end = (timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))
                  for day in (since, until + datetime.timedelta(days=1)))
    turns = Turn.objects.filter(status__in=Turn.FINISHED, metrics__isnull=False,
                                queued_at__gte=start, queued_at__lt=end)
    return turns.filter(model=model) if model is not None else turns


def tokens_per_day(turns, since: datetime.date, until: datetime.date) -> list[dict]:
    """One row per day of the range, days without turns included: the turns and the tokens
    generated on each channel."""
    sums = {c: Sum(Metric(f"tokens_by_channel__{c}")) for c in CHANNELS}
    rows = {row["day"]: row for row in turns.annotate(day=TruncDate("queued_at"))
            .values("day").annotate(turns=Count("id"), **sums).order_by("day")}
    days = []
    for offset in range((until - since).days + 1):
        day = since + datetime.timedelta(days=offset)
        row = rows.get(day, {})
        days.append({"day": day.isoformat(), "turns": row.get("turns", 0),
                     **{c: round(row.get(c) or 0) for c in CHANNELS}})
    return days


def median(values, count: int) -> float | None:
    """The median of `values`, a queryset of one non-null number per row that the database
    sorts, of which there are `count`: only the middle one or two rows are read."""
    if not count:
        return None
    middle = list(values.order_by("value").values_list("value", flat=True)
                  [(count - 1) // 2: count // 2 + 1])
    return sum(middle) / len(middle)


def speed_by_model_and_engine(turns) -> list[dict]:
    """Per model and engine (the busiest MAX_SPEED_GROUPS pairs): turns, and the median
    time to first token (ms) and decode speed (tokens/s) of those that recorded them."""
    with_engine = turns.annotate(engine=Metric("engine", TextField()))
    counted = {f"{name}_count": Count(Metric(name)) for name in SPEEDS}
    groups = (with_engine.values("model", "engine").annotate(turns=Count("id"), **counted)
              .order_by("-turns", "model", "engine")[:MAX_SPEED_GROUPS])
    rows = []
    for group in groups:
        engine = {"engine": group["engine"]} if group["engine"] is not None \
            else {"engine__isnull": True}
        same = with_engine.filter(model=group["model"], **engine)
        rows.append({
            "model": group["model"] or UNKNOWN, "engine": group["engine"] or UNKNOWN,
            "turns": group["turns"],
            **{name: median(same.annotate(value=Metric(name)).filter(value__isnull=False),
                            group[f"{name}_count"]) for name in SPEEDS},
        })
    return rows


def effort_by_model(turns) -> list[dict]:
    """Per model: how many turns ran at each reasoning effort."""
    mix = {}
    for row in turns.values("model", "effort").annotate(turns=Count("id")).order_by("model"):
        counts = mix.setdefault(row["model"] or UNKNOWN, dict.fromkeys(EFFORTS, 0))
        counts[row["effort"]] = counts.get(row["effort"], 0) + row["turns"]
    return [{"model": model, **counts} for model, counts in mix.items()]


def lint_by_model(turns) -> dict:
    """The harmony lint of `turns` per model, for the usage page's lint chart and the turn
    admin's summary. `rows`, one per model: its `turns`, how many were `linted` (Turn.lint:
    null = not linted, [] = clean, else [{code, message, index}]), how many of those had
    findings (`flagged`), and `counts`: per code of `codes`, the turns with a finding of that
    code (a turn counts once per code, so a count is what the admin's filter for that code
    lists). `codes`: the codes found, in inference.lint.CODES order, any other after them."""
    models: dict[str, dict] = {}
    for model, lint in turns.order_by().values_list("model", "lint").iterator(chunk_size=2000):
        row = models.setdefault(model or UNKNOWN, {"turns": 0, "linted": 0, "flagged": 0,
                                                   "by_code": Counter()})
        row["turns"] += 1
        if lint is not None:
            row["linted"] += 1
            row["flagged"] += bool(lint)
            row["by_code"].update({finding.get("code") or UNKNOWN for finding in lint})
    found = set().union(*(row["by_code"] for row in models.values()))
    codes = [code for code in CODES if code in found] + sorted(found - set(CODES))
    return {"codes": codes, "rows": [
        {"model": model, "turns": row["turns"], "linted": row["linted"], "flagged": row["flagged"],
         "counts": [row["by_code"][code] for code in codes]} for model, row in sorted(models.items())]}


def usage(since: datetime.date, until: datetime.date, model: str | None = None) -> dict:
    """Every figure of the usage page for the range (and model, if given)."""
    turns = finished_turns(since, until, model)
    return {
        "days": tokens_per_day(turns, since, until),
        "speed": speed_by_model_and_engine(turns),
        "efforts": effort_by_model(turns),
        "lint": lint_by_model(turns),
    }


def models_seen(since: datetime.date, until: datetime.date) -> list[str]:
    """The models of the range's finished turns, for the page's model filter."""
    return sorted(m for m in finished_turns(since, until).values_list("model", flat=True)
                  .distinct().order_by() if m)
