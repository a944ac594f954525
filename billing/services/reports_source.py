"""SerwerSMS as the poll pass sees it: the account's clients, rate-limited and retried."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from billing.models import ClientAccount
from billing.serwersms import client_for
from billing.serwersms.retry import RateLimitedSession, with_retries
from billing.serwersms.types import ReportItem


class ClientReportsSource:
    """Reads for one account. Every HTTP request takes a token of the account's rate limit;
    every batch is retried with backoff and jitter on timeouts, 429, 5xx and dropped answers."""

    def __init__(self, account: ClientAccount):
        self.account = account
        self.session = RateLimitedSession(f"account:{account.pk}")
        self._api = None
        self._xml = None

    @property
    def api(self):
        if self._api is None:
            self._api = client_for(self.account, "api_v2")
            self._api.session = self.session
        return self._api

    @property
    def has_xml(self) -> bool:
        return bool(self.account.username and self.account.password)

    @property
    def xml(self):
        if self._xml is None:
            self._xml = client_for(self.account, "xml_api")
            self._xml.session = self.session
        return self._xml

    def reports_by_ids(self, ids: Sequence[str]) -> list[ReportItem]:
        return with_retries(lambda: list(self.api.reports(ids=list(ids))))

    def reports_by_unique_ids(self, unique_ids: Sequence[str]) -> list[ReportItem]:
        """By `messages/view` per id: report items echo no unique_id (serwersms-api.md §3)."""
        return with_retries(lambda: list(self.api.find_by_unique_ids(unique_ids).values()))

    def reports_by_phones(
        self, phones: Sequence[str], date_from: datetime, date_to: datetime
    ) -> list[ReportItem]:
        return with_retries(
            lambda: list(
                self.api.reports(phones=list(phones), date_from=date_from, date_to=date_to)
            )
        )

    def xml_check(self, ids: Sequence[str]) -> list[ReportItem]:
        """XML API messages through sprawdz_sms; without XML credentials, through API v2."""
        if not self.has_xml:
            return self.reports_by_ids(ids)
        return with_retries(lambda: self.xml.sprawdz_sms(smsids=list(ids)))
