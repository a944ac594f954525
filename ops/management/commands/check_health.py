"""`manage.py check_health`: the readiness checks for cron; exits 1 when one fails."""

import json

from django.core.management.base import BaseCommand, CommandError

from ops import alerts, checks


class Command(BaseCommand):
    help = (
        "Run the readiness checks (database, broker, beat's tick, poll pass) and print them as "
        "JSON; exit 1 when one fails. --alerts also evaluates the alert rules (cron's fallback "
        "when beat itself has stopped)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--alerts", action="store_true", help="also evaluate alert rules and notify"
        )

    def handle(self, *args, **options):
        result = checks.run_checks()
        if options["alerts"]:
            summary = alerts.evaluate_alerts()
            result["incidents"] = {
                "opened": len(summary.opened),
                "cleared": len(summary.cleared),
                "open": summary.open,
            }
        self.stdout.write(json.dumps(result, indent=2, sort_keys=True))
        if result["status"] != "ok":
            failed = sorted(k for k, v in result["checks"].items() if v["status"] != "ok")
            raise CommandError(f"unhealthy: {', '.join(failed)}", returncode=1)
