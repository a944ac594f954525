"""Sets of statuses come from billing/statuses.py only: no other product module spells a list of
status values itself (a tuple, list or set literal, a Literal[...] or an SQL `IN ('..', '..')`).

Left out: migrations (history) and serwersms_sim (an independent reading of the protocol).
Mappings (SerwerSMS's words to ours) and single values are not sets."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from billing.statuses import (
    AT_SERWERSMS,
    COUNTED,
    FINAL,
    PENDING,
    REPORTABLE,
    WITH_REASON,
    Status,
    values,
)

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("billing", "partner_portal", "partner_api", "ops", "devtools")
LEFT_OUT = (Path("billing/statuses.py"),)
WORDS = {status.value for status in Status}
NAMES = {status.name for status in Status}
_WORD = "|".join(sorted(WORDS))
_SQL_LIST = re.compile(rf"'(?:{_WORD})'\s*,\s*'(?:{_WORD})'")


def _status(node: ast.AST) -> str | None:
    """The status a literal element spells ("queued", Status.QUEUED, Status.QUEUED.value)."""
    if isinstance(node, ast.Constant) and node.value in WORDS:
        return node.value
    if isinstance(node, ast.Attribute):
        if node.attr == "value":
            return _status(node.value)
        if isinstance(node.value, ast.Name) and node.value.id == "Status" and node.attr in NAMES:
            return Status[node.attr].value
    return None


def status_lists(source: str) -> list[str]:
    """Where `source` spells a list of two or more statuses itself."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Tuple | ast.List | ast.Set) and len(node.elts) >= 2:
            spelled = [_status(element) for element in node.elts]
            if None not in spelled and len(set(spelled)) >= 2:
                found.append(f"line {node.lineno}: {ast.unparse(node)[:80]}")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            if _SQL_LIST.search(node.value):
                found.append(f"line {node.lineno}: SQL {_SQL_LIST.search(node.value).group(0)}")
    return found


def _product_modules():
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            relative = path.relative_to(ROOT)
            if "migrations" in relative.parts:
                continue
            if any(relative == left or left in relative.parents for left in LEFT_OUT):
                continue
            yield relative, path


def test_the_detector_sees_a_spelled_set():
    spelled = status_lists(
        "a = ('queued', 'sent')\n"
        "b = [Status.SENT, Status.DELIVERED.value]\n"
        "c: Literal['queued', 'unsent']\n"
        "d = \"WHERE status IN ('sent', 'delivered')\"\n"
        "e = {Status.UNSENT, 'undelivered'}\n"
    )
    assert sorted(entry.split(":")[0] for entry in spelled) == [f"line {n}" for n in range(1, 6)]
    assert not status_lists(
        "columns = [('delivered', 'delivered'), ('lost', 'lost')]\n"
        "words = {'doreczone': 'delivered', 'wyslane': 'sent'}\n"
        "step = ('poll', 'queued', 'sent', 'sent_at')\n"
        "sql = \"WHERE status = 'delivered'\"\n"
        "x = status in WITH_REASON\n"
    )


def test_no_module_spells_a_status_set():
    spelled = {
        str(relative): found
        for relative, path in _product_modules()
        if (found := status_lists(path.read_text(encoding="utf-8")))
    }
    assert spelled == {}, "take the set from billing/statuses.py"


def test_the_named_sets():
    assert AT_SERWERSMS == PENDING - {Status.SUBMITTING}
    assert {Status.QUEUED, Status.UNSENT} <= set(REPORTABLE) <= PENDING | FINAL  # send answers
    assert not set(REPORTABLE) & COUNTED  # dispatch is only taken from SerwerSMS's reports
    assert WITH_REASON == FINAL - {Status.DELIVERED}
    assert values(REPORTABLE) == ("queued", "saved", "in_progress", "unsent")
    assert values(COUNTED) == ("delivered", "sent", "undelivered")
    assert all(type(word) is str for word in values(FINAL))
