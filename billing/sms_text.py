"""SMS size rules shared by our sender and the simulator: encoding, parts, limits (pure)."""

from __future__ import annotations

from dataclasses import dataclass

# GSM 03.38 basic character set and its extension table (extension characters take two septets).
GSM7_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = set("^{}\\[~]|€\f")

GSM7_SINGLE, GSM7_MULTI = 160, 153
UCS2_SINGLE, UCS2_MULTI = 70, 67


@dataclass(frozen=True)
class TextSize:
    unicode: bool
    units: int  # septets (GSM-7) or UTF-16 code units (UCS-2)
    parts: int


def measure(text: str) -> TextSize:
    """Encoding and number of parts SerwerSMS will bill for `text`."""
    if all(ch in GSM7_BASIC or ch in GSM7_EXTENSION for ch in text):
        units = sum(2 if ch in GSM7_EXTENSION else 1 for ch in text)
        single, multi, unicode = GSM7_SINGLE, GSM7_MULTI, False
    else:
        units = len(text.encode("utf-16-le")) // 2
        single, multi, unicode = UCS2_SINGLE, UCS2_MULTI, True
    parts = 1 if units <= single else -(-units // multi)
    return TextSize(unicode=unicode, units=units, parts=parts)


def max_units(unicode: bool, max_parts: int) -> int:
    if max_parts <= 1:
        return UCS2_SINGLE if unicode else GSM7_SINGLE
    return (UCS2_MULTI if unicode else GSM7_MULTI) * max_parts


class TextError(ValueError):
    """The text cannot be sent: empty or longer than allowed."""


def check_text(text: str, max_parts: int) -> TextSize:
    """Measure `text`, raising TextError when it is empty or longer than `max_parts` parts."""
    if text is None or not str(text).strip():
        raise TextError("The message text is empty.")
    size = measure(text)
    if size.parts > max_parts:
        limit = max_units(size.unicode, max_parts)
        raise TextError(
            f"The message text is too long: {size.units} characters"
            f" ({'Unicode' if size.unicode else 'GSM-7'}) makes {size.parts} parts;"
            f" the limit is {max_parts} parts ({limit} characters)."
        )
    return size
