"""Write-only XLSX sheets for exports of many rows: openpyxl makes the workbook, we write the rows.

openpyxl's write-only mode spends most of an export binding a Cell per value (type checks,
a style looked up per dated or formatted cell) and writing it as an lxml element: ~80 us per
cell, ~1,000 rows/s for the messages export's 14 columns on this project's machine. Here
openpyxl still makes everything but the rows of the body: the workbook, its sheets, the styles
(number formats, the bold header), each sheet's head, header row and tail, and the zip. The body
rows are written as SpreadsheetML text into the sheet's XML part, one string per row, which
openpyxl then zips like its own (docs/scale.md, "XLSX").

Cells are what openpyxl writes for the same values: text as inline strings (`t="inlineStr"`,
`xml:space="preserve"` around outer spaces), numbers as `<v>` (the default type, so without
`t="n"`), datetimes (naive, local) as Excel serial days with a date format; None and "" as no
cell. Characters XML cannot hold
(control characters other than tab, newline and carriage return) are dropped, where openpyxl
would refuse the whole file. Imports neither Django nor models.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterable, Sequence
from decimal import Decimal
from functools import cache

from openpyxl.cell import WriteOnlyCell
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._writer import ALL_TEMP_FILES, create_temporary_file

ZIP_LEVEL = 1  # deflate level of the workbook's parts: 3x faster than zlib's 6, ~25 % larger
MAX_TEXT = 32_767  # Excel's longest cell text (openpyxl cuts there too)
DATETIME_FORMAT = "yyyy-mm-dd h:mm:ss"  # openpyxl's own format for datetime cells
TEXT_FORMAT = "@"
_EXCEL_EPOCH = dt.datetime(1899, 12, 30)  # day 0 of the 1900 date system, valid from 1900-03-01
_ONE_DAY = dt.timedelta(days=1)
# Text as XML: markup characters escaped; tab, newline and carriage return as character
# references (a parser would turn a bare carriage return into a newline); other control
# characters dropped (XML cannot hold them).
_CONTROL = [code for code in range(1, 32) if code not in (9, 10, 13)]
_ESCAPE = str.maketrans(
    {
        "&": "&amp;",
        "<": "&lt;",
        ">": "&gt;",
        "\t": "&#9;",
        "\n": "&#10;",
        "\r": "&#13;",
        "\x00": None,
        **{code: None for code in _CONTROL},
    }
)
_XML_SPACE = " \t\n\r"  # what an XML reader may drop around a text without xml:space
_NUMBERS = (int, float, Decimal)


@cache
def _letters(columns: int) -> tuple[str, ...]:
    return tuple(get_column_letter(n) for n in range(1, columns + 1))


def _style_id(sheet, **style) -> str:
    """The workbook's style index of a cell with `style` (openpyxl registers it on first use)."""
    cell = WriteOnlyCell(sheet)
    for name, value in style.items():
        setattr(cell, name, value)
    return str(cell.style_id)


class RowSheet:
    """One write-only sheet: `header` written by openpyxl (in `header_font` when given), then
    `write_rows` for the body, then `close` before the workbook is saved.

    `text_formatted` are the 0-based columns whose text cells carry the text number format "@"
    (phones, ids: text when the user edits them too)."""

    def __init__(
        self,
        workbook,
        title: str,
        header: Sequence,
        *,
        header_font=None,
        text_formatted: Iterable[int] = (),
    ):
        sheet = workbook.create_sheet(title)
        self.sheet = sheet
        self.row_number = 1
        self.date_style = _style_id(sheet, number_format=DATETIME_FORMAT)
        self.text_style = _style_id(sheet, number_format=TEXT_FORMAT)
        self._text_styles = {column: self.text_style for column in text_formatted}
        self._letters = _letters(16_384)  # Excel's widest sheet
        cells = []
        for value in header:
            cell = WriteOnlyCell(sheet, value=value)
            if header_font is not None:
                cell.font = header_font
            cells.append(cell)
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
        """Append `rows` (sequences of str, numbers, naive datetimes, None)."""
        letters, text_styles, date_style = self._letters, self._text_styles, self.date_style
        escape, numbers = _ESCAPE, _NUMBERS
        write = self._file.write
        number = self.row_number
        parts: list[str] = []
        for row in rows:
            number += 1
            r = str(number)
            parts.append(f'<row r="{r}">')
            for column, value in enumerate(row):
                if value is None or value == "":
                    continue
                ref = letters[column] + r
                if isinstance(value, str):
                    value = value[:MAX_TEXT]
                    style = text_styles.get(column)
                    s = f' s="{style}"' if style else ""
                    space = ' xml:space="preserve"' if value.strip(_XML_SPACE) != value else ""
                    text = value.translate(escape)
                    parts.append(f'<c r="{ref}"{s} t="inlineStr"><is><t{space}>{text}</t></is></c>')
                elif isinstance(value, dt.datetime):
                    days = (value - _EXCEL_EPOCH) / _ONE_DAY
                    parts.append(f'<c r="{ref}" s="{date_style}"><v>{days!r}</v></c>')
                elif isinstance(value, numbers):
                    parts.append(f'<c r="{ref}"><v>{value}</v></c>')
                else:
                    raise TypeError(f"Cannot write {type(value).__name__} to an XLSX cell.")
            parts.append("</row>")
            if len(parts) > 4096:
                write("".join(parts).encode())
                parts.clear()
        write("".join(parts).encode())
        self.row_number = number

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
    from zipfile import ZIP_DEFLATED, ZipFile

    from openpyxl.writer.excel import ExcelWriter

    if not workbook.worksheets:
        workbook.create_sheet()
    archive = ZipFile(target, "w", ZIP_DEFLATED, allowZip64=True, compresslevel=ZIP_LEVEL)
    workbook.properties.modified = dt.datetime.now(tz=dt.UTC).replace(tzinfo=None)
    ExcelWriter(workbook, archive).save()


def _chars_sql(codes) -> str:
    return " || ".join(f"chr({code})" for code in codes)


def xml_text_sql(expression: str) -> str:
    """PostgreSQL: the rest of an inline-string cell after `<c r=".."` for the text
    `expression`, as `RowSheet.write_rows` writes it (the same escaping, the same xml:space).
    No `%` and no parameters in it."""
    space = _chars_sql(ord(char) for char in _XML_SPACE)
    escaped = f"translate({expression}, {_chars_sql(_CONTROL)}, '')"
    for char, entity in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;")):
        escaped = f"replace({escaped}, '{char}', '{entity}')"
    for code in (9, 10, 13):
        escaped = f"replace({escaped}, chr({code}), '&#{code};')"
    # Most texts hold nothing to escape: one regular expression spares them the replacements.
    escaped = f"(CASE WHEN {expression} ~ '[&<>[:cntrl:]]' THEN {escaped} ELSE {expression} END)"
    return (
        f"""' t="inlineStr"><is><t' || (CASE WHEN btrim({expression}, {space}) <> {expression}"""
        f""" THEN ' xml:space="preserve"' ELSE '' END) || '>' || {escaped} || '</t></is></c>'"""
    )
