"""The usage page (staff only): charts of the figures in usage_stats for a date range, of one
model or all. Anyone else is sent to the admin's login, which tells a signed-in user without
staff status that the page is not theirs; no figure is computed for them."""

from __future__ import annotations

import datetime

from django import forms
from django.contrib.admin.views.decorators import staff_member_required
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from inference.harmony import EFFORTS

from . import usage_stats

DEFAULT_DAYS = 30


class UsageFilter(forms.Form):
    """The page's query string: `since` and `until` (dates, both included; by default the last
    DEFAULT_DAYS days up to today) and `model` (empty: every model)."""

    since = forms.DateField(required=False, label="From")
    until = forms.DateField(required=False, label="To")
    model = forms.CharField(required=False, max_length=200, label="Model")

    def clean(self):
        data = super().clean()
        until = data.get("until") or timezone.localdate()
        since = data.get("since") or until - datetime.timedelta(days=DEFAULT_DAYS - 1)
        if since > until:
            raise forms.ValidationError("The start date is after the end date.")
        days = (until - since).days + 1
        if days > usage_stats.MAX_DAYS:
            raise forms.ValidationError(f"The range is {days} days; choose at most "
                                        f"{usage_stats.MAX_DAYS}.")
        data.update(since=since, until=until, model=data.get("model") or None)
        return data


@staff_member_required
@require_GET
def usage(request):
    """The figures for the filter, or the filter with what is wrong in it (400)."""
    form = UsageFilter(request.GET)
    if not form.is_valid():
        return render(request, "chat/usage.html", {"form": form}, status=400)
    since, until, model = (form.cleaned_data[key] for key in ("since", "until", "model"))
    figures = usage_stats.usage(since, until, model)
    return render(request, "chat/usage.html", {
        "form": form, "since": since, "until": until, "model": model,
        "models": sorted(set(usage_stats.models_seen(since, until)) | ({model} - {None})),
        "figures": figures, "channels": usage_stats.CHANNELS, "efforts": EFFORTS,
        "turns": sum(day["turns"] for day in figures["days"]),
        "page_data": figures,
    })
