"""Create (or refresh) the demo login of a laptop run and print it.

The password is generated once per checkout and kept in var/demo_password, so every
`make run` prints the same login. The demo user is staff, to show the transcript admin.
"""

import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Create or refresh the demo login (username demo) and print it."

    def add_arguments(self, parser):
        parser.add_argument("--username", default="demo")

    def handle(self, *args, username, **options):
        path = settings.VAR_DIR / "demo_password"
        if not path.exists():
            settings.VAR_DIR.mkdir(exist_ok=True)
            path.write_text(secrets.token_urlsafe(9))
            path.chmod(0o600)
        password = path.read_text().strip()
        user, created = get_user_model().objects.get_or_create(username=username)
        user.is_staff = user.is_superuser = True
        user.set_password(password)
        user.save()
        self.stdout.write(f"demo login: {username} / {password}"
                          + (" (created)" if created else ""))
