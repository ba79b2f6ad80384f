"""The admin's view of the turns' conformance lint (Turn.lint, inference/lint.py): a list
filter (not linted, clean, with findings, by code) and a per-model summary shown above the
turn list."""

from __future__ import annotations

from collections import Counter

from django.contrib import admin
from django.db.models import TextField
from django.db.models.functions import Cast

from inference.lint import CODES

CODE_PREFIX = "code:"


def with_code(queryset, code: str):
    """The turns with a finding of `code`. Matched on the stored JSON's text, which both
    databases write `"code": "<code>"`, because SQLite has no JSON containment lookup; codes
    are plain identifiers, so the quotes make the match exact."""
    return queryset.annotate(lint_text=Cast("lint", TextField())).filter(
        lint_text__contains=f'"code": "{code}"')


class LintFilter(admin.SimpleListFilter):
    title = "harmony lint"
    parameter_name = "lint"

    def lookups(self, request, model_admin):
        return [("none", "not linted"), ("clean", "clean"), ("findings", "with findings")] + [
            (CODE_PREFIX + code, code) for code in CODES]

    def queryset(self, request, queryset):
        value = self.value()
        if value == "none":
            return queryset.filter(lint__isnull=True)
        if value == "clean":
            return queryset.filter(lint=[])
        if value == "findings":
            return queryset.filter(lint__isnull=False).exclude(lint=[])
        if value and value.startswith(CODE_PREFIX):
            return with_code(queryset, value.removeprefix(CODE_PREFIX))
        return queryset


def per_model(queryset) -> dict:
    """Per model: how many turns, how many linted, how many with findings, and how many have
    each code (a turn counts once per code); `codes`: the codes found, in CODES order."""
    rows: dict[str, dict] = {}
    for model, lint in queryset.order_by().values_list("model", "lint").iterator():
        row = rows.setdefault(model or "(none)", {"turns": 0, "linted": 0, "flagged": 0,
                                                  "by_code": Counter()})
        row["turns"] += 1
        if lint is not None:
            row["linted"] += 1
            row["flagged"] += bool(lint)
            row["by_code"].update({f.get("code") for f in lint})
    found = set().union(*(row["by_code"] for row in rows.values())) if rows else set()
    codes = [c for c in CODES if c in found] + sorted(found - set(CODES), key=str)
    return {"codes": codes, "rows": [
        {"model": model, **{k: row[k] for k in ("turns", "linted", "flagged")},
         "counts": [row["by_code"][c] for c in codes]} for model, row in sorted(rows.items())]}
