"""Write-only XLSX sheets for exports of many rows: openpyxl makes the workbook, we write the rows.

openpyxl's own write-only rows were ~1,000 rows/s (docs/scale.md, "XLSX"): here it makes
everything but the body rows, which go as SpreadsheetML text into the sheet's XML part as openpyxl
would write the same values, except that characters XML cannot hold are dropped, where openpyxl
would refuse the whole file. Imports neither Django nor models.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterable, Sequence
from zipfile import ZIP_DEFLATED, ZipFile

from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._writer import ALL_TEMP_FILES, create_temporary_file
from openpyxl.writer.excel import ExcelWriter

ZIP_LEVEL = 1  # deflate level of the workbook's parts: 3x faster than zlib's 6, ~25 % larger
MAX_TEXT = 32_767  # Excel's longest cell text (openpyxl cuts there too)
DATETIME_FORMAT = "yyyy-mm-dd h:mm:ss"  # openpyxl's own format for datetime cells
TEXT_FORMAT = "@"
# Text as XML: markup characters escaped; tab, newline and carriage return as character
# references (a parser would turn a bare carriage return into a newline); other control
# characters dropped (XML cannot hold them).
_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;", "\t": "&#9;", "\n": "&#10;", "\r": "&#13;"}
_CONTROL = [code for code in range(1, 32) if chr(code) not in _ENTITIES]
_ESCAPE = str.maketrans(_ENTITIES | dict.fromkeys([0, *_CONTROL]))
_XML_SPACE = " \t\n\r"  # what an XML reader may drop around a text without xml:space


def _style_id(sheet, number_format: str) -> str:
    """The workbook's style index of a cell in `number_format` (registered on first use)."""
    cell = WriteOnlyCell(sheet)
    cell.number_format = number_format
    return str(cell.style_id)


class RowSheet:
    """One write-only sheet: `header` in bold written by openpyxl, then the body (`write_xml`,
    `write_rows`), then `close` before the workbook is saved. Text cells of the `text_formatted`
    columns carry the text format "@" (phones, ids: text when the user edits them too)."""

    def __init__(self, workbook, title: str, header: Sequence, *, text_formatted: Iterable[int]):
        sheet = workbook.create_sheet(title)
        self.row_number = 1
        self.date_style = _style_id(sheet, DATETIME_FORMAT)
        self.text_style = _style_id(sheet, TEXT_FORMAT)
        self._text_formatted = frozenset(text_formatted)
        font = Font(bold=True)
        cells = [WriteOnlyCell(sheet, value=value) for value in header]
        for cell in cells:
            cell.font = font
        sheet.append(cells)
        # openpyxl writes the sheet's head, the header row and its tail to its own temporary
        # file; the body goes between the header row and the tail, in a file of our own that
        # takes the place of openpyxl's in the workbook (openpyxl zips and deletes it on save).
        sheet.close()
        writer = sheet._writer
        with open(writer.out, "rb") as produced:
            head, found, tail = produced.read().rpartition(b"</sheetData>")
        if not found:
            raise RuntimeError("openpyxl wrote a sheet without </sheetData>.")
        self._tail = found + tail
        original, writer.out = writer.out, create_temporary_file(suffix=".xml")
        os.remove(original)
        ALL_TEMP_FILES.remove(original)
        self._file = open(writer.out, "wb")  # noqa: SIM115
        self._file.write(head)

    def write_rows(self, rows: Iterable[Sequence]) -> None:
        """Append `rows` of text and whole numbers (the totals under the body)."""
        for row in rows:
            self.row_number += 1
            r = str(self.row_number)
            cells = []
            for column, value in enumerate(row):
                ref = get_column_letter(column + 1) + r
                if isinstance(value, str):
                    value = value[:MAX_TEXT]
                    s = f' s="{self.text_style}"' if column in self._text_formatted else ""
                    space = ' xml:space="preserve"' if value.strip(_XML_SPACE) != value else ""
                    text = value.translate(_ESCAPE)
                    cells.append(f'<c r="{ref}"{s} t="inlineStr"><is><t{space}>{text}</t></is></c>')
                else:
                    cells.append(f'<c r="{ref}"><v>{value}</v></c>')
            self._file.write(f'<row r="{r}">{"".join(cells)}</row>'.encode())

    def write_xml(self, rows: bytes, count: int) -> None:
        """Append `count` rows already written as SpreadsheetML (numbered from `row_number` + 1,
        as `xml_text_sql` and the exports' SQL write them)."""
        self._file.write(rows)
        self.row_number += count

    def close(self) -> None:
        """Finish the sheet's XML part (the workbook's save then zips it)."""
        self._file.write(self._tail)
        self._file.close()


def save(workbook, target) -> None:
    """Save `workbook` to `target` (a path or binary file) as openpyxl's Workbook.save does,
    deflating at ZIP_LEVEL (most of a big export's saving time is compressing its sheets)."""
    archive = ZipFile(target, "w", ZIP_DEFLATED, allowZip64=True, compresslevel=ZIP_LEVEL)
    workbook.properties.modified = dt.datetime.now(tz=dt.UTC).replace(tzinfo=None)
    ExcelWriter(workbook, archive).save()


def _chars_sql(codes) -> str:
    return " || ".join(f"chr({code})" for code in codes)


def xml_text_sql(expression: str) -> str:
    """PostgreSQL: the rest of an inline-string cell after `<c r=".."` for the text
    `expression`, as `RowSheet.write_rows` writes text (the same escaping, the same xml:space).
    No `%` and no parameters in it."""
    space = _chars_sql(ord(char) for char in _XML_SPACE)
    escaped = f"translate({expression}, {_chars_sql(_CONTROL)}, '')"
    for char, entity in _ENTITIES.items():  # "&" first
        escaped = f"replace({escaped}, chr({ord(char)}), '{entity}')"
    # Most texts hold nothing to escape: one regular expression spares them the replacements.
    escaped = f"(CASE WHEN {expression} ~ '[&<>[:cntrl:]]' THEN {escaped} ELSE {expression} END)"
    return (
        f"""' t="inlineStr"><is><t' || (CASE WHEN btrim({expression}, {space}) <> {expression}"""
        f""" THEN ' xml:space="preserve"' ELSE '' END) || '>' || {escaped} || '</t></is></c>'"""
    )
