"""The release step of a deployment, as one command: migrate, collect static files, seed the
beat schedule, check. Safe to run on every deploy (each step is idempotent)."""

from django.core.management import call_command
from django.core.management.base import BaseCommand

from billing.services.schedule import ensure_status_poll_task


class Command(BaseCommand):
    help = "Migrate the database, collect static files and seed the beat schedule (deploys)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--skip-static",
            action="store_true",
            help="no collectstatic (static files built elsewhere)",
        )

    def handle(self, *args, skip_static=False, verbosity=1, **options):
        self.stdout.write("release: migrate")
        call_command("migrate", interactive=False, verbosity=verbosity)
        if not skip_static:
            self.stdout.write("release: collectstatic")
            call_command("collectstatic", interactive=False, verbosity=verbosity)
        self.stdout.write("release: beat schedule")
        # migrate seeds it too (post_migrate); called here so a release says so.
        ensure_status_poll_task()
        self.stdout.write("release: check")
        call_command("check", verbosity=verbosity)
        self.stdout.write("release: done")
