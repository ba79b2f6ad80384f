"""`python manage.py export_transcripts`: stored turns as post-training JSONL on stdout, one
turn per line (docs/training-data.md). A turn that cannot be rendered here is named on stderr
and left out; the others are still written."""

from __future__ import annotations

import datetime as dt
import json

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from inference.harmony import EFFORTS

from ...models import Turn
from ... import transcript_export
from ...transcript_export import FORMATS, exportable, rows


def since_time(text: str) -> dt.datetime:
    """YYYY-MM-DD (from that day's start, in the site's time zone) or an ISO date-time."""
    try:
        moment = parse_datetime(text)
        day = None if moment else parse_date(text)
    except ValueError:  # well formed but impossible, e.g. 2026-02-30
        moment = day = None
    if day is not None:
        moment = dt.datetime.combine(day, dt.time())
    if moment is None:
        raise CommandError(f"--since {text!r} is not a date (YYYY-MM-DD) or an ISO date-time")
    return timezone.make_aware(moment) if timezone.is_naive(moment) else moment


class Command(BaseCommand):
    help = "Write stored turns as JSONL training rows (harmony messages or tokens with a loss mask)."

    def add_arguments(self, parser):
        parser.add_argument("--user", help="only this user's turns (username)")
        parser.add_argument("--since", help="only turns queued from this date (YYYY-MM-DD) or time on")
        parser.add_argument("--model", help="only turns run by this model (as stored, exactly)")
        parser.add_argument("--effort", help=f"only turns of this effort ({', '.join(EFFORTS)})")
        parser.add_argument("--lint-clean", action="store_true",
                            help="only completed turns whose conformance lint found nothing (cancelled, "
                                 "failed and length turns are left out: the lint spares a cut-off turn "
                                 "the checks of its ending, and one cancelled while queued has nothing "
                                 "to lint)")
        parser.add_argument("--format", default="harmony", help=f"{' or '.join(FORMATS)} (default harmony)")

    def handle(self, *args, user=None, since=None, model=None, effort=None, lint_clean=False,
               format="harmony", **options):
        if format not in FORMATS:
            raise CommandError(f"--format must be one of {', '.join(FORMATS)}, got {format!r}")
        turns = Turn.objects.all()
        if user is not None:
            owner = get_user_model().objects.filter(username=user).first()
            if owner is None:
                raise CommandError(f"--user: there is no user {user!r}")
            turns = turns.filter(conversation__user=owner)
        if since is not None:
            turns = turns.filter(queued_at__gte=since_time(since))
        if model is not None:
            turns = turns.filter(model=model)
        if effort is not None:
            if effort not in EFFORTS:
                raise CommandError(f"--effort must be one of {', '.join(EFFORTS)}, got {effort!r}")
            turns = turns.filter(effort=effort)
        if lint_clean:
            turns = transcript_export.lint_clean(turns)
        written = skipped = 0
        for turn, row, why in rows(exportable(turns), format):
            if row is None:
                skipped += 1
                self.stderr.write(f"turn {turn.id} left out: {why}")
                continue
            self.stdout.write(json.dumps(row, ensure_ascii=False))
            written += 1
        self.stderr.write(f"exported {written} turn(s) as {format} rows"
                          + (f", left out {skipped}" if skipped else ""))

