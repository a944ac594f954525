"""The SerwerSMS client: API v2 (client.py), HTTPS XML API (xml_api.py), Email2SMS (email2sms.py);
the ic is attached to outgoing sending requests in exactly one place (ic.py)."""

from .factory import client_for

__all__ = ["client_for"]
