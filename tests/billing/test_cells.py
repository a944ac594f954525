"""The neutralising rule in Python (billing.cells.neutralise) and in SQL (neutralise_sql) agree."""

import pytest
from django.db import connection

from billing.cells import neutralise, neutralise_sql

TRICKY = [
    "=1+1",
    "=",
    "+",
    "-",
    "@",
    "+48500600704",
    "+48 500 600 704",
    "48500600704",
    "-12",
    "+-12",
    "- 12",
    "-12 ",
    "+12a",
    "+48500+HYPERLINK()",
    "+cmd|' /C calc'!A0",
    "-x",
    "@a",
    "@SUM(A1)",
    "\tx",
    "\t12",
    "\rx",
    "\r\n=1",
    " =1",
    "'=1",
    "+12\n",
    "+12\n=1",
    "+\u0663\u0664",  # Arabic-Indic digits: not a plain number on either side
    "=\u00e9\u0142",
    "+0",
    "ok",
    "",
    "zażółć",
    "1,5",
    '"=1"',
    "%s",
    "%",
]


def test_python_rule_on_the_table():
    assert neutralise("=1+1") == "'=1+1"
    assert neutralise("+48 500 600 704") == "+48 500 600 704"
    assert neutralise("+\u0663\u0664") == "'+\u0663\u0664"
    assert neutralise("+12\n") == "'+12\n"
    assert neutralise(" =1") == " =1"
    assert neutralise(None) is None


@pytest.mark.django_db
def test_sql_rule_agrees_with_python_on_tricky_values():
    values = ", ".join(f"(%s, {index})" for index in range(len(TRICKY)))
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {neutralise_sql('v.value')} FROM (VALUES {values}) AS v(value, n)"  # noqa: S608
            " ORDER BY v.n",
            [value for value in TRICKY],
        )
        in_sql = [row[0] for row in cursor.fetchall()]
        cursor.execute(f"SELECT {neutralise_sql('NULL::text')}")  # noqa: S608
        assert cursor.fetchone()[0] is None
    assert in_sql == [neutralise(value) for value in TRICKY]
    assert sum(a != b for a, b in zip(in_sql, TRICKY, strict=True)) >= 15
