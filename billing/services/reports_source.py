"""SerwerSMS as the poll pass sees it: the account's clients under its shared rate limit, every
read under the one retry policy (serwersms/retry.py)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from billing.models import ClientAccount
from billing.serwersms import client_for
from billing.serwersms.retry import limited_client, read_with_retries
from billing.serwersms.types import ReportItem


class ClientReportsSource:
    """Reads for one account; each read is asked again on transient failures, within limits."""

    def __init__(self, account: ClientAccount):
        self.account = account
        self.key = f"account:{account.pk}"
        self._api = None
        self._xml = None

    @property
    def api(self):
        if self._api is None:
            self._api = limited_client(client_for(self.account, "api_v2"), self.key)
        return self._api

    @property
    def has_xml(self) -> bool:
        return bool(self.account.username and self.account.password)

    @property
    def xml(self):
        if self._xml is None:
            self._xml = limited_client(client_for(self.account, "xml_api"), self.key)
        return self._xml

    def reports_by_ids(self, ids: Sequence[str]) -> list[ReportItem]:
        return read_with_retries(lambda: list(self.api.reports(ids=list(ids))))

    def reports_by_phones(
        self, phones: Sequence[str], date_from: datetime, date_to: datetime
    ) -> list[ReportItem]:
        return read_with_retries(
            lambda: list(
                self.api.reports(phones=list(phones), date_from=date_from, date_to=date_to)
            )
        )

    def xml_check(self, ids: Sequence[str]) -> list[ReportItem]:
        """XML API messages through sprawdz_sms; without XML credentials, through API v2."""
        if not self.has_xml:
            return self.reports_by_ids(ids)
        return read_with_retries(lambda: self.xml.sprawdz_sms(smsids=list(ids)))
