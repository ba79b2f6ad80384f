"""Lint stored turns (inference/lint.py): the turns that ended before the lint existed, or,
with --all, every ended turn again (after the checks changed)."""

from django.core.management.base import BaseCommand

from webapp.chat.conformance import lint_turn
from webapp.chat.models import Turn


class Command(BaseCommand):
    help = "Store the harmony conformance findings of ended turns that have none yet."

    def add_arguments(self, parser):
        parser.add_argument("--all", action="store_true",
                            help="lint every ended turn again, not only those never linted")

    def handle(self, *args, all, **options):
        ended = Turn.objects.filter(status__in=Turn.FINISHED).order_by("id")
        if not all:
            ended = ended.filter(lint__isnull=True)
        linted = flagged = 0
        for turn in ended.iterator():
            findings = lint_turn(turn, turn.status, turn.error)
            Turn.objects.filter(id=turn.id).update(lint=findings)
            linted += 1
            flagged += bool(findings)
        self.stdout.write(f"linted {linted} turn(s), {flagged} with findings")
