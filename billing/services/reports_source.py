"""SerwerSMS as the poll pass sees it: the account's clients under its shared rate limit, every
read under the one retry policy (serwersms/retry.py)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import cached_property

from billing.models import ClientAccount
from billing.serwersms import client_for
from billing.serwersms.retry import limited_client, read_with_retries
from billing.serwersms.types import ReportItem


class ClientReportsSource:
    """Reads for one account; each read is asked again on transient failures, within limits."""

    def __init__(self, account: ClientAccount):
        self.account = account

    @cached_property
    def api(self):
        return limited_client(client_for(self.account, "api_v2"), f"account:{self.account.pk}")

    @cached_property
    def xml(self):
        return limited_client(client_for(self.account, "xml_api"), f"account:{self.account.pk}")

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
        if not (self.account.username and self.account.password):
            return self.reports_by_ids(ids)
        return read_with_retries(lambda: self.xml.sprawdz_sms(smsids=list(ids)))
