"""Text size and phone number rules."""

import pytest

from billing.phones import PhoneError, normalize_phone
from billing.sms_text import TextError, check_text, measure


@pytest.mark.parametrize(
    ("text", "unicode", "parts"),
    [
        ("a" * 160, False, 1),
        ("a" * 161, False, 2),
        ("a" * 306, False, 2),
        ("a" * 307, False, 3),
        ("€" * 80, False, 1),  # extension characters count twice
        ("€" * 81, False, 2),
        ("ą" * 70, True, 1),
        ("ą" * 71, True, 2),
        ("ą" * 134, True, 2),
        ("ą" * 135, True, 3),
    ],
)
def test_measure(text, unicode, parts):
    size = measure(text)
    assert (size.unicode, size.parts) == (unicode, parts)


def test_empty_text_is_refused():
    with pytest.raises(TextError, match="empty"):
        check_text("  ", 6)


def test_too_long_text_is_refused_with_the_limit():
    with pytest.raises(TextError, match="918"):
        check_text("a" * 919, 6)
    assert check_text("a" * 918, 6).parts == 6


@pytest.mark.parametrize("raw", ["500600700", "+48 500 600 700", "0048500600700"])
def test_polish_numbers_become_e164(raw):
    assert normalize_phone(raw) == "+48500600700"


@pytest.mark.parametrize("raw", ["", "abc", "+48123", "12"])
def test_invalid_numbers_are_refused(raw):
    with pytest.raises(PhoneError):
        normalize_phone(raw)
