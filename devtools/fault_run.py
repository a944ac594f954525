"""The fault run: the whole product against a faulty simulator, its worker killed, then counted.

A real Celery worker and beat (subprocesses, this database and broker) send N messages over the
three channels and six accounts through the outbox, while the simulator (in this process) fails
a share of every channel's calls (HTTP 500/503/429, drops, timeouts, answers lost after the
message was taken; the same on SMTP) and the worker is SIGKILLed K times at random moments.
When everything has settled, our records are compared with the simulator's own: what it took,
what was lost, sent twice, mismatched, stuck, or counted twice, by channel.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from django.conf import settings
from django.db.models import Count

from billing.models import Channel, ClientAccount, Message, Partner, StatusEvent
from billing.services.outbox import send_sms, text_digest
from billing.statuses import COUNTED, FINAL, Status, values

ROOT = Path(__file__).resolve().parents[1]
CHANNELS = (Channel.API_V2, Channel.XML_API, Channel.EMAIL2SMS)


@dataclass
class ChannelFigures:
    messages: int = 0
    taken: int = 0  # SerwerSMS has the message (its own record)
    delivered: int = 0  # our final status: delivered
    unsent: int = 0  # our final status: unsent (SerwerSMS's refusal, or never received)
    lost: int = 0  # SerwerSMS never got it, and we did not give it up on a definite refusal
    sent_twice: int = 0  # SerwerSMS holds more than one message for one of ours
    mismatched: int = 0  # status, id, phone, text or parts differ from SerwerSMS's record
    stuck: int = 0  # not settled at the end
    counted_twice: int = 0  # counted more than once (two counted moves, or one id twice)

    def failures(self) -> int:
        return self.lost + self.sent_twice + self.mismatched + self.stuck + self.counted_twice


@dataclass
class FaultRunResult:
    by_channel: dict[str, ChannelFigures] = field(default_factory=dict)
    kills: int = 0
    seconds: float = 0.0
    slow_answers: tuple[float, ...] = ()
    injected: dict[str, dict[str, int]] = field(default_factory=dict)
    examples: list[str] = field(default_factory=list)

    @property
    def total(self) -> ChannelFigures:
        total = ChannelFigures()
        for figures in self.by_channel.values():
            for name in total.__dataclass_fields__:
                setattr(total, name, getattr(total, name) + getattr(figures, name))
        return total

    def failures(self) -> int:
        return self.total.failures()


def _database_url() -> str:
    db = settings.DATABASES["default"]
    user = quote(db.get("USER") or "postgres")
    password = f":{quote(db['PASSWORD'])}" if db.get("PASSWORD") else ""
    host = f"{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}"
    return f"postgres://{user}{password}@{host}/{db['NAME']}"


class FaultRun:
    """One run; `run()` returns the figures. Everything it creates is named `fr<run>-...`."""

    def __init__(
        self,
        *,
        messages: int,
        fault_rate: float,
        kills: int,
        seed: int = 1,
        accounts: int = 6,
        settle_timeout: float = 900.0,
        concurrency: int = 12,
        speed: float = 40.0,
        slow_answers: tuple[float, ...] = (),
        log: Callable[[str], None] = print,
    ):
        if messages < 1 or not 0 <= fault_rate <= 1 or kills < 0 or accounts < 1:
            raise ValueError("messages >= 1, 0 <= fault rate <= 1, kills >= 0, accounts >= 1")
        if any(not 0 < seconds <= 600 for seconds in slow_answers):
            raise ValueError("slow answers are seconds between 0 and 600")
        self.slow_answers = tuple(slow_answers)
        self.n = messages
        self.fault_rate = fault_rate
        self.kills = kills
        self.seed = seed
        self.account_count = accounts
        self.settle_timeout = settle_timeout
        self.concurrency = concurrency
        self.speed = speed
        self.log = log
        self.rng = random.Random(seed)
        self.tag = f"fr{int(time.time())}{seed}"
        self.processes: dict[str, subprocess.Popen] = {}
        self.logs = Path(settings.VAR_DIR) / "fault-run"

    # --- set-up ----------------------------------------------------------------------------

    def _accounts(self, server) -> list[ClientAccount]:
        partner = Partner.objects.create(name=f"Fault run {self.tag}", ic=_free_ic())
        has_key = any(f.name == "email2sms_key" for f in ClientAccount._meta.get_fields())
        accounts = []
        for n in range(self.account_count):
            name = f"{self.tag}-{n}"
            values = {
                "partner": partner,
                "name": name,
                "api_token": f"{name}-token",
                "username": f"{name}-user",
                "password": f"{name}-pass",
                "email2sms_sender": f"{name}@fault-run.example",
            }
            if has_key:
                values["email2sms_key"] = f"key{n}{self.tag}"
            account = ClientAccount.objects.create(**values)
            server.sim.register_account(
                {
                    "name": name,
                    "token": account.api_token,
                    "username": account.username,
                    "password": account.password,
                    "email": account.email2sms_sender,
                    **({"email2sms_key": values["email2sms_key"]} if has_key else {}),
                    "limit": None,
                }
            )
            accounts.append(account)
        return accounts

    def _fault_kinds(self) -> dict[str, list[str]]:
        """Each channel's random fault kinds: all of them; with slow answers, each slow kind
        once per delay (`slow:16`, `slow_take:16`, ...) instead of the 3 s default."""
        from serwersms_sim.faults import KINDS, SLOW_KINDS

        kinds = {}
        for channel, names in KINDS.items():
            chosen = []
            for name in names:
                if self.slow_answers and name in SLOW_KINDS:
                    chosen += [f"{name}:{seconds:g}" for seconds in self.slow_answers]
                else:
                    chosen.append(name)
            kinds[channel] = chosen
        return kinds

    def _env(self, server) -> dict[str, str]:
        env = {
            **os.environ,
            "DATABASE_URL": _database_url(),
            "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
            "VAR_DIR": str(settings.VAR_DIR),
            "SERWERSMS_API_URL": server.api_url,
            "SERWERSMS_XML_API_URL": server.xml_url,
            "SERWERSMS_EMAIL2SMS_HOST": server.host,
            "SERWERSMS_EMAIL2SMS_PORT": str(server.smtp_port),
            "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            # Short timeouts: the simulator's "slow" answers (3 s) become client timeouts; the
            # look-ups of a maybe-taken send come 3, 6, 9 and 12 s after it.
            "SERWERSMS_TIMEOUT": "2",
            "SERWERSMS_SETTLE_MARGIN_SECONDS": "1",
            "SERWERSMS_SETTLE_WINDOW_SECONDS": "9",
            "SERWERSMS_SETTLE_LOOKUPS": "4",
            "SERWERSMS_RETRY_BASE_SECONDS": "0.2",
            "SERWERSMS_RETRY_MAX_SECONDS": "3",
            "SERWERSMS_READ_RETRY_SECONDS": "20",
            "SERWERSMS_RATE_LIMIT_PER_SECOND": "50",
            "OUTBOX_RESUME_AFTER_SECONDS": "60",
            "STATUS_EMAIL2SMS_GRACE_SECONDS": "120",
            "CELERY_VISIBILITY_TIMEOUT": "60",
            "CELERY_UNACKED_RESTORE_INTERVAL": "2",
            "CELERY_UNACKED_RESTORE_THROTTLE": "2",
            "LOG_LEVEL": "WARNING",
        }
        if self.slow_answers:
            # The product's own timeout and settle times against answers later than it.
            for name in (
                "SERWERSMS_TIMEOUT",
                "SERWERSMS_SETTLE_MARGIN_SECONDS",
                "SERWERSMS_SETTLE_WINDOW_SECONDS",
                "SERWERSMS_SETTLE_LOOKUPS",
            ):
                env[name] = str(getattr(settings, name))
            # Reads are slow too (a poll's read may wait 15 s and fail): give Email2SMS mails
            # longer to be matched to a report before they end unsent.
            env["STATUS_EMAIL2SMS_GRACE_SECONDS"] = "900"
        return env

    def _schedule(self) -> list[int]:
        from django_celery_beat.models import IntervalSchedule, PeriodicTask

        every, _ = IntervalSchedule.objects.get_or_create(every=3, period=IntervalSchedule.SECONDS)
        tasks = []
        for name, task in (
            (f"{self.tag} poll", "billing.tasks.poll_all_accounts"),
            (f"{self.tag} resume sends", "billing.tasks.resume_sends"),
        ):
            tasks.append(PeriodicTask.objects.create(name=name, task=task, interval=every).pk)
        return tasks

    def _start(self, name: str, args: list[str], env: dict[str, str]) -> None:
        self.logs.mkdir(parents=True, exist_ok=True)
        out = open(self.logs / f"{self.tag}-{name}.log", "ab")  # noqa: SIM115 - lives with it
        self.processes[name] = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", "--quiet", *args],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def _start_worker(self, env: dict[str, str]) -> None:
        self._start(
            "worker",
            [
                "worker",
                "--pool",
                "threads",
                "--concurrency",
                str(self.concurrency),
                "--without-heartbeat",
                "--without-gossip",
                "--without-mingle",
                "--loglevel",
                "WARNING",
            ],
            env,
        )

    def _kill_worker(self) -> None:
        worker = self.processes["worker"]
        worker.send_signal(signal.SIGKILL)
        worker.wait(30)

    def _stop_all(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGKILL)
                process.wait(30)

    # --- the run ---------------------------------------------------------------------------

    def run(self) -> FaultRunResult:
        from serwersms_sim import SimulatorServer

        started = time.monotonic()
        result = FaultRunResult(slow_answers=self.slow_answers)
        server = SimulatorServer(
            port=0,
            smtp_port=0,
            seed=self.seed,
            speed=self.speed,
            slow_seconds=3.0,
            callback_statuses=(),
        )
        server.start()
        periodic: list[int] = []
        try:
            accounts = self._accounts(server)
            for channel, kinds in self._fault_kinds().items():
                server.sim.faults.configure(channel, rate=self.fault_rate, kinds=kinds)
            env = self._env(server)
            periodic = self._schedule()
            self._start_worker(env)
            self._start("beat", ["beat", "--loglevel", "WARNING"], env)
            ids = self._submit(accounts)
            self.log(f"{len(ids)} messages written to the outbox; sending...")
            result.kills = self._kill_while_sending(ids, env)
            self._wait_until_settled(server, ids)
            result.injected = {
                name: dict(plan["injected"])
                for name, plan in server.sim.faults.as_json()["channels"].items()
            }
            server.sim.faults.configure("all", rate=0.0)
            self._compare(server, ids, result)
        finally:
            self._stop_all()
            server.stop()
            if periodic:
                from django_celery_beat.models import PeriodicTask

                PeriodicTask.objects.filter(pk__in=periodic).delete()
        result.seconds = time.monotonic() - started
        return result

    def _submit(self, accounts: list[ClientAccount]) -> list[int]:
        ids: list[int] = []
        n = 0
        while n < self.n:
            channel = CHANNELS[n % len(CHANNELS)]
            account = accounts[(n // len(CHANNELS)) % len(accounts)]
            # API sends sometimes carry several recipients; a mail is one recipient.
            size = 1
            if channel != Channel.EMAIL2SMS and self.rng.random() < 0.2:
                size = min(3, self.n - n)
            phones = [f"+4851{(n + k):07d}" for k in range(size)]
            text = f"Fault run {self.tag} message {n}"
            messages = send_sms(account, phones, text, channel=channel)
            ids.extend(m.pk for m in messages)
            n += size
        return ids

    def _progress(self, ids: list[int]) -> int:
        return Message.objects.filter(pk__in=ids).exclude(status=Status.SUBMITTING).count()

    def _kill_while_sending(self, ids: list[int], env: dict[str, str]) -> int:
        """SIGKILL the worker at random points of the sending still to do, restarting it each
        time; kills are spread (at least 2 % of the messages sent between two of them)."""
        total = len(ids)
        start = self._progress(ids)
        span = max(0.0, 0.9 * total - start)
        marks = sorted(start + self.rng.uniform(0.02, 1.0) * span for _ in range(self.kills))
        kills, last_kill_at = 0, -total
        deadline = time.monotonic() + self.settle_timeout
        last, still = -1, time.monotonic()
        while marks and time.monotonic() < deadline:
            done = self._progress(ids)
            stalled = done == last and time.monotonic() - still > 60
            if (done >= marks[0] and done - last_kill_at >= 0.02 * total) or stalled:
                time.sleep(self.rng.uniform(0, 0.5))
                self._kill_worker()
                kills += 1
                self.log(f"kill {kills}: SIGKILL with {done}/{total} sent")
                marks.pop(0)
                last_kill_at = done
                time.sleep(self.rng.uniform(0.5, 2))
                self._start_worker(env)
                still = time.monotonic()
                continue
            if done != last:
                last, still = done, time.monotonic()
            time.sleep(0.2)
        return kills

    def _wait_until_settled(self, server, ids: list[int]) -> None:
        deadline = time.monotonic() + self.settle_timeout
        last_line = 0.0
        while time.monotonic() < deadline:
            ours = Counter(Message.objects.filter(pk__in=ids).values_list("status", flat=True))
            unsettled = sum(v for k, v in ours.items() if k not in FINAL)
            pending_sim = sum(
                1
                for r in server.sim.message_records()
                if r.get("account", "").startswith(self.tag) and r["status"] not in FINAL
            )
            if time.monotonic() - last_line > 10:
                self.log(f"waiting: ours {dict(ours)}; simulator not final: {pending_sim}")
                last_line = time.monotonic()
            if not unsettled and not pending_sim:
                # One more poll round so the last reports land everywhere.
                time.sleep(5)
                return
            time.sleep(1)

    # --- comparison ------------------------------------------------------------------------

    def _compare(self, server, ids: list[int], result: FaultRunResult) -> None:
        records = [
            r
            for r in server.sim.message_records()
            if str(r.get("account", "")).startswith(self.tag)
        ]
        # The simulator's own records, per (account, unique_id): SerwerSMS scopes ids per account.
        by_unique: dict[tuple[str, str], list[dict]] = defaultdict(list)
        by_digest: dict[tuple[str, str], list[dict]] = defaultdict(list)
        by_id = {r["id"]: r for r in records}
        for record in records:
            if record.get("channel") == Channel.EMAIL2SMS:
                key = (record["account"], text_digest(record.get("text") or ""))
                by_digest[key].append(record)
            elif record.get("unique_id"):
                by_unique[(record["account"], record["unique_id"])].append(record)
        messages = list(Message.objects.filter(pk__in=ids).select_related("account"))
        counted_moves = dict(
            StatusEvent.objects.filter(
                message_id__in=ids, applied=True, new_status__in=values(COUNTED)
            )
            .exclude(old_status__in=values(COUNTED))
            .values_list("message_id")
            .annotate(n=Count("id"))
        )
        ids_seen = Counter(m.serwersms_id for m in messages if m.serwersms_id)
        for channel in CHANNELS:
            result.by_channel[channel] = ChannelFigures()
        for message in messages:
            figures = result.by_channel[message.channel]
            figures.messages += 1
            if message.channel == Channel.EMAIL2SMS:
                mine = by_digest.get((message.account.name, message.text_digest), [])
            else:
                mine = by_unique.get((message.account.name, message.unique_id), [])
            if mine:
                figures.taken += 1
            if len(mine) > 1:
                figures.sent_twice += 1
                result.examples.append(f"sent twice: {message.unique_id} -> {len(mine)}")
            if message.status == Status.DELIVERED:
                figures.delivered += 1
            if message.status == Status.UNSENT:
                figures.unsent += 1
            if message.status not in FINAL:
                figures.stuck += 1
                result.examples.append(f"stuck: {message.unique_id} {message.status}")
            if not mine:
                figures.lost += 1
                result.examples.append(
                    f"lost: {message.channel} {message.unique_id} {message.status}"
                    f" {message.reason} {message.error_message[:80]}"
                )
                continue
            record = by_id.get(message.serwersms_id or "") if message.serwersms_id else None
            problems = []
            if record is None or record not in mine:
                problems.append(f"id {message.serwersms_id} not its record {mine[0]['id']}")
            else:
                if record["status"] != message.status:
                    problems.append(f"status {message.status} != {record['status']}")
                if record.get("parts") and int(record["parts"]) != message.parts:
                    problems.append(f"parts {message.parts} != {record['parts']}")
                if not _same_phone(record.get("phone", ""), message.phone):
                    problems.append(f"phone {message.phone} != {record.get('phone')}")
            if problems:
                figures.mismatched += 1
                result.examples.append(f"mismatch {message.unique_id}: {'; '.join(problems)}")
            twice = counted_moves.get(message.pk, 0) > 1 or (
                message.serwersms_id and ids_seen[message.serwersms_id] > 1
            )
            if twice:
                figures.counted_twice += 1
                result.examples.append(f"counted twice: {message.unique_id}")


def _same_phone(answered: str, ours: str) -> bool:
    digits = "".join(ch for ch in str(answered) if ch.isdigit())
    return bool(digits) and ours.lstrip("+").endswith(digits[-9:])


def _free_ic() -> int:
    used = set(Partner.objects.values_list("ic", flat=True))
    ic = 900000 + random.randint(0, 99999)
    while ic in used:
        ic += 1
    return ic


def format_result(result: FaultRunResult, *, fault_rate: float) -> list[str]:
    """The printed table: one line per channel and the total."""
    columns = [
        ("messages", "messages"),
        ("taken", "taken by SerwerSMS"),
        ("delivered", "delivered"),
        ("unsent", "unsent"),
        ("lost", "lost"),
        ("sent_twice", "sent twice"),
        ("mismatched", "mismatched"),
        ("stuck", "stuck"),
        ("counted_twice", "counted twice"),
    ]
    widths = [max(len(label), 7) for _, label in columns]
    lines = [
        "channel    "
        + "  ".join(label.rjust(w) for (_, label), w in zip(columns, widths, strict=True))
    ]
    rows = [*result.by_channel.items(), ("total", result.total)]
    for name, figures in rows:
        values = [str(getattr(figures, key)) for key, _ in columns]
        lines.append(
            f"{name:<10} " + "  ".join(v.rjust(w) for v, w in zip(values, widths, strict=True))
        )
    total = result.total
    share = 100.0 * total.taken / total.messages if total.messages else 0.0
    lines.append(
        f"taken by SerwerSMS: {share:.2f}% of {total.messages}; fault rate {fault_rate};"
        f" worker kills {result.kills}; {result.seconds:.0f} s"
    )
    if result.slow_answers:
        seconds = ", ".join(f"{s:g}" for s in result.slow_answers)
        timeout = f"{settings.SERWERSMS_TIMEOUT:g}"
        lines.append(
            f"slow answers: {seconds} s (taken at once, or only then); client timeout {timeout} s"
        )
    lines.append(f"faults injected: {result.injected}")
    return lines
