"""Run the product against a faulty simulator, SIGKILL its worker, and count what went wrong."""

import logging

from django.core.management.base import CommandError

from billing.management.commands._billing import BillingCommand
from devtools.fault_run import FaultRun, format_result


class Command(BillingCommand):
    help = (
        "Send N messages over every channel through a real Celery worker and beat against the"
        " simulator failing a share F of calls, SIGKILL the worker K times, wait until all"
        " settles and print by channel: taken by SerwerSMS, delivered, lost, sent twice,"
        " mismatched, stuck, counted twice. Exits 1 when any of the last five is not 0."
    )

    def add_arguments(self, parser):
        parser.add_argument("--messages", type=int, default=300)
        parser.add_argument("--fault-rate", type=float, default=0.3)
        parser.add_argument("--kills", type=int, default=1)
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument("--accounts", type=int, default=6)
        parser.add_argument("--concurrency", type=int, default=12, help="worker threads")
        parser.add_argument(
            "--timeout", type=float, default=1800, help="seconds to wait for settling"
        )
        parser.add_argument(
            "--slow-answers",
            default="",
            help="comma-separated seconds, e.g. 16,20,60: slow faults answer that late against"
            " the real client timeout (SERWERSMS_TIMEOUT) instead of 3 s against 2 s",
        )

    def handle(self, *args, **options):
        logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd's per-line chatter
        try:
            slow = tuple(float(v) for v in options["slow_answers"].split(",") if v.strip())
            run = FaultRun(
                messages=options["messages"],
                fault_rate=options["fault_rate"],
                kills=options["kills"],
                seed=options["seed"],
                accounts=options["accounts"],
                concurrency=options["concurrency"],
                settle_timeout=options["timeout"],
                slow_answers=slow,
                log=self.stderr.write,
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        result = run.run()
        for line in format_result(result, fault_rate=options["fault_rate"]):
            self.stdout.write(line)
        for example in result.examples[:20]:
            self.stderr.write(example)
        if result.failures():
            raise CommandError(f"{result.failures()} failures (lost/doubled/mismatched/stuck).")
