"""Operations state: heartbeats of periodic work, shared counters, and alert incidents.

Nothing here is billing data; every row can be deleted without changing a figure a partner sees.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Heartbeat(models.Model):
    """The last time a piece of periodic work finished (beat's tick, a poll pass, ...)."""

    name = models.CharField(max_length=100, primary_key=True)
    beat_at = models.DateTimeField()
    seconds = models.FloatField(null=True, blank=True)  # how long the run took, when known
    detail = models.JSONField(default=dict, blank=True)

    def __str__(self) -> str:
        return f"{self.name} at {self.beat_at:%Y-%m-%d %H:%M:%S}"


class Counter(models.Model):
    """A counter shared by every process: SerwerSMS answers, API requests, folded events.

    One row per name, labels and window: the all-time total (window 1970-01-01) and, for the
    counters alerts read rates from, one row per minute (pruned after a day)."""

    name = models.CharField(max_length=64)
    labels = models.CharField(max_length=255)  # canonical "k=v,k=v" (counters.label_key)
    window = models.DateTimeField()
    value = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            # The upsert's conflict target and the index of every read (by name, then window).
            models.UniqueConstraint(fields=["name", "window", "labels"], name="ops_counter_key")
        ]

    def __str__(self) -> str:
        return f"{self.name}{{{self.labels}}} @ {self.window:%Y-%m-%d %H:%M}: {self.value}"


class FoldCursor(models.Model):
    """How far a table has been folded into counters (the last primary key counted)."""

    name = models.CharField(max_length=64, primary_key=True)
    position = models.BigIntegerField(default=0)  # counted up to here
    # The highest key seen at the last fold and the snapshot's xmax then: counted next time,
    # once every transaction running then has finished (counters.fold).
    pending_position = models.BigIntegerField(default=0)
    pending_xmax = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.name}: {self.position}"


class Incident(models.Model):
    """One alert rule (for one subject) firing, from when it opened to when it cleared."""

    rule = models.CharField(_("rule"), max_length=64)
    subject = models.CharField(_("subject"), max_length=200, blank=True)
    summary = models.CharField(_("summary"), max_length=500)
    value = models.FloatField(_("value"), null=True, blank=True)
    threshold = models.FloatField(_("threshold"), null=True, blank=True)
    opened_at = models.DateTimeField(_("opened"), default=timezone.now)
    last_seen_at = models.DateTimeField(_("last seen"), default=timezone.now)
    cleared_at = models.DateTimeField(_("cleared"), null=True, blank=True)
    opened_notified_at = models.DateTimeField(_("operators told"), null=True, blank=True)
    cleared_notified_at = models.DateTimeField(
        _("operators told of clearing"), null=True, blank=True
    )

    class Meta:
        ordering = ["-opened_at", "-id"]
        verbose_name = _("incident")
        verbose_name_plural = _("incidents")
        constraints = [
            # One open incident per rule and subject: two evaluators (beat, cron) never open twice.
            models.UniqueConstraint(
                fields=["rule", "subject"],
                condition=Q(cleared_at__isnull=True),
                name="ops_incident_one_open",
            )
        ]
        indexes = [
            # The admin's list and the evaluator's "open incidents" (cleared_at IS NULL).
            models.Index(fields=["cleared_at", "opened_at"], name="ops_incident_open"),
        ]

    def __str__(self) -> str:
        return f"{self.rule} {self.subject}".strip()

    @property
    def is_open(self) -> bool:
        return self.cleared_at is None
