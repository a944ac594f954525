"""`client_for(account, channel)`: the right SerwerSMS client for a ClientAccount."""

from __future__ import annotations

from . import ic as ic_rules
from .client import ApiV2Client
from .email2sms import Email2SMSClient
from .errors import ConfigurationError
from .xml_api import XmlApiClient


def client_for(account, channel: str = ic_rules.API_V2):
    """An API v2, XML API or Email2SMS client carrying the account's partner ic."""
    ic = account.partner.ic
    if channel == ic_rules.API_V2:
        if not account.api_token and not (account.username and account.password):
            raise ConfigurationError(
                "no_credentials", f"Account {account.name!r} has no API token or username/password."
            )
        return ApiV2Client(
            ic=ic, token=account.api_token, username=account.username, password=account.password
        )
    if channel == ic_rules.XML_API:
        if not (account.username and account.password):
            raise ConfigurationError(
                "no_credentials",
                f"Account {account.name!r} has no username and password, which the XML API needs.",
            )
        return XmlApiClient(ic=ic, username=account.username, password=account.password)
    if channel == ic_rules.EMAIL2SMS:
        return Email2SMSClient(
            ic=ic, from_address=account.email2sms_sender, key=account.email2sms_key
        )
    raise ConfigurationError("unknown_channel", f"Unknown channel {channel!r}.")
