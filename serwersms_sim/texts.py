"""Message length and parts, written from the GSM 03.38 rules SerwerSMS bills by.

§3 (C): `utf` only for FULL, 70 instead of 160 characters. §3 `account/limits` "918/6" = 6 parts of
153 characters (I). Concatenated parts hold 153 GSM-7 or 67 UCS-2 characters.
"""

from __future__ import annotations

_GSM_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM_ESCAPED = frozenset("^{}\\[~]|€\f")  # two septets each
# Without `utf`, national letters go out without their marks (I: SerwerSMS's behaviour).
_PLAIN = str.maketrans("ąćęłńóśźżĄĆĘŁŃÓŚŹŻ", "acelnoszzACELNOSZZ")


def parts(text: str, *, utf: bool, max_parts: int) -> int:
    """How many parts `text` takes; 0 when it is longer than `max_parts` allow."""
    if not utf:
        text = text.translate(_PLAIN)
    gsm = all(ch in _GSM_BASIC or ch in _GSM_ESCAPED for ch in text)
    if gsm:
        units = sum(2 if ch in _GSM_ESCAPED else 1 for ch in text)
        single, multi = 160, 153
    else:
        units = len(text.encode("utf-16-le")) // 2
        single, multi = 70, 67
    count = 1 if units <= single else -(-units // multi)
    return count if count <= max_parts else 0


def chars_limit(max_parts: int, *, utf: bool = False) -> str:
    """`account/limits` "chars/parts" for the account's maximum length."""
    per_part = 67 if utf else 153
    return f"{per_part * max_parts}/{max_parts}" if max_parts > 1 else f"{70 if utf else 160}/1"
