"""`python manage.py import_transcripts FILE --user NAME`: harmony rows (as export_transcripts
writes them) read back as that user's conversations; all rows or none (docs/training-data.md)."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from ...transcript_import import ImportProblem, import_rows


class Command(BaseCommand):
    help = "Import harmony JSONL rows as a user's conversations (nothing is imported if a line is bad)."

    def add_arguments(self, parser):
        parser.add_argument("file", help="JSONL file of harmony rows")
        parser.add_argument("--user", required=True, help="the username who will own the conversations")

    def handle(self, *args, file, user, **options):
        owner = get_user_model().objects.filter(username=user).first()
        if owner is None:
            raise CommandError(f"--user: there is no user {user!r}")
        try:
            stream = open(file, encoding="utf-8")
        except OSError as exc:
            raise CommandError(f"cannot read {file}: {exc.strerror}") from None
        try:
            with stream:
                turns = import_rows(stream, owner)
        except ImportProblem as exc:
            raise CommandError(f"{file}: {exc} (nothing was imported)") from None
        except UnicodeDecodeError as exc:
            raise CommandError(f"{file} is not UTF-8 text ({exc.reason}; nothing was imported)") from None
        conversations = len({t.conversation_id for t in turns})
        self.stdout.write(f"imported {len(turns)} turn(s) in {conversations} conversation(s) for {user}")
