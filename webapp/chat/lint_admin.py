"""The admin's list filter on the turns' conformance lint (Turn.lint, inference/lint.py): not
linted, clean, with findings, by code. (The per-model summary above the turn list is
usage_stats.lint_by_model, the usage page's lint figures.)"""

from __future__ import annotations

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
