"""Exports for office software and council documents: CSV (Dutch Excel dialect), XLSX and PDF. Domain-free.

Spreadsheet cells that come from people (names, texts) may start with ``=``, ``+``, ``-`` or ``@``; a
spreadsheet would run them as a formula (CSV/formula injection, OWASP). Every text cell that starts with
one of those (or with a tab or carriage return) gets a leading apostrophe. Numbers stay numbers.
"""

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from portal.lib.formatting import format_date, format_datetime

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
Cell = str | int | float | Decimal | date | datetime | None


def escape_formula(text: str) -> str:
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def _dutch_number(value: int | float | Decimal) -> str:
    """1234.5 -> "1234,5": no thousands separator, so every spreadsheet reads it back as a number."""
    if isinstance(value, Decimal):
        text = format(value.normalize(), "f") if value == value else str(value)
    else:
        text = str(value)
    return text.replace(".", ",")


def csv_cell(value: Cell) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "ja" if value else "nee"
    if isinstance(value, int | float | Decimal):
        return _dutch_number(value)
    if isinstance(value, datetime):
        return format_datetime(value)
    if isinstance(value, date):
        return format_date(value)
    return escape_formula(str(value))


def to_csv(headers: Sequence[str], rows: Iterable[Sequence[Cell]]) -> bytes:
    """Semicolon-separated UTF-8 with a byte-order mark: what Dutch Excel opens without an import wizard."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow([escape_formula(header) for header in headers])
    for row in rows:
        writer.writerow([csv_cell(value) for value in row])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


@dataclass
class Sheet:
    title: str
    headers: Sequence[str]
    rows: list[Sequence[Cell]] = field(default_factory=list)
    # number format per column index, e.g. {3: "#,##0.00"}; dates get dd-mm-yyyy
    number_formats: dict[int, str] = field(default_factory=dict)


def to_xlsx(sheets: Sequence[Sheet]) -> bytes:
    """An .xlsx workbook; text cells escaped, numbers and dates as real cells with Dutch-looking formats."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    workbook = Workbook()
    workbook.remove(workbook.active)
    for sheet in sheets:
        ws = workbook.create_sheet(title=_sheet_title(sheet.title))
        ws.append([escape_formula(str(header)) for header in sheet.headers])
        for cell in ws[1]:
            cell.font = Font(bold=True)
        for row in sheet.rows:
            ws.append([_xlsx_value(value) for value in row])
        for row in ws.iter_rows(min_row=2):
            for index, cell in enumerate(row):
                if index in sheet.number_formats and isinstance(cell.value, int | float):
                    cell.number_format = sheet.number_formats[index]
                elif isinstance(cell.value, date | datetime):
                    cell.number_format = "dd-mm-yyyy"
        for index, header in enumerate(sheet.headers, start=1):
            ws.column_dimensions[ws.cell(row=1, column=index).column_letter].width = max(12, min(45, len(header) + 4))
        ws.freeze_panes = "A2"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _sheet_title(title: str) -> str:
    cleaned = "".join("_" if ch in "[]:*?/\\" else ch for ch in title).strip("'")
    return (cleaned or "Blad")[:31]


def _xlsx_value(value: Cell):
    if value is None:
        return None
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, datetime):
        return value.replace(tzinfo=None)
    if isinstance(value, bool | int | float | date):
        return value
    return escape_formula(str(value))


# --- PDF -------------------------------------------------------------------------------------------

# The PDF core fonts hold Latin-1: enough for Dutch (é, ë, ï). Typographic characters outside it are
# written as their plain equivalents; anything else as "?".
_PDF_REPLACEMENTS = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u2013": "-",
                                   "\u2014": "-", "\u2026": "...", "\u2022": "-", "\u20ac": "EUR", "\u00a0": " ",
                                   "\u2192": "->", "\u2264": "<=", "\u2265": ">="})


def pdf_text(text: str) -> str:
    text = str(text).translate(_PDF_REPLACEMENTS)
    return text.encode("latin-1", errors="replace").decode("latin-1")


class PdfDocument:
    """A plain A4 document: title, key-value facts, headings, paragraphs, bullet lists and tables."""

    def __init__(self, title: str, subtitle: str | None = None, footer: str | None = None) -> None:
        from fpdf import FPDF

        footer_text = pdf_text(footer or "")

        class _Pdf(FPDF):
            def footer(self) -> None:  # noqa: D401 - fpdf2 hook
                self.set_y(-12)
                self.set_font("Helvetica", size=8)
                self.set_text_color(90, 90, 90)
                self.cell(0, 6, f"{footer_text}   pagina {self.page_no()}/{{nb}}", align="C")

        self.pdf = _Pdf(format="A4", unit="mm")
        self.pdf.set_title(pdf_text(title))
        self.pdf.set_creator("Inzicht")
        self.pdf.set_auto_page_break(auto=True, margin=16)
        self.pdf.set_margins(18, 16, 18)
        self.pdf.add_page()
        self.pdf.set_font("Helvetica", "B", 16)
        self.pdf.multi_cell(0, 8, pdf_text(title), new_x="LMARGIN", new_y="NEXT")
        if subtitle:
            self.pdf.set_font("Helvetica", size=11)
            self.pdf.set_text_color(70, 70, 70)
            self.pdf.multi_cell(0, 6, pdf_text(subtitle), new_x="LMARGIN", new_y="NEXT")
            self.pdf.set_text_color(0, 0, 0)
        self.pdf.ln(3)

    def facts(self, pairs: Sequence[tuple[str, str]]) -> None:
        for label, value in pairs:
            self.pdf.set_font("Helvetica", "B", 10)
            self.pdf.cell(48, 6, pdf_text(label))
            self.pdf.set_font("Helvetica", size=10)
            self.pdf.multi_cell(0, 6, pdf_text(value), new_x="LMARGIN", new_y="NEXT")
        self.pdf.ln(2)

    def heading(self, text: str) -> None:
        self.pdf.ln(2)
        self.pdf.set_font("Helvetica", "B", 13)
        self.pdf.multi_cell(0, 7, pdf_text(text), new_x="LMARGIN", new_y="NEXT")
        self.pdf.ln(1)

    def paragraph(self, text: str, *, muted: bool = False) -> None:
        self.pdf.set_font("Helvetica", "I" if muted else "", 10)
        self.pdf.multi_cell(0, 5.2, pdf_text(text), new_x="LMARGIN", new_y="NEXT")
        self.pdf.ln(1.5)

    def bullets(self, items: Sequence[str]) -> None:
        self.pdf.set_font("Helvetica", size=10)
        for item in items:
            self.pdf.cell(6, 5.2, "-")
            self.pdf.multi_cell(0, 5.2, pdf_text(item), new_x="LMARGIN", new_y="NEXT")
        self.pdf.ln(1.5)

    def table(self, headers: Sequence[str], rows: Sequence[Sequence[str]], widths: Sequence[float] | None = None,
              align_right: Sequence[int] = ()) -> None:
        self.pdf.set_font("Helvetica", size=9.5)
        aligns = tuple("RIGHT" if index in align_right else "LEFT" for index in range(len(headers)))
        with self.pdf.table(col_widths=tuple(widths) if widths else None, text_align=aligns,
                            line_height=5.5, first_row_as_headings=True) as table:
            for values in [headers, *rows]:
                row = table.row()
                for value in values:
                    row.cell(pdf_text(value))
        self.pdf.ln(2)

    def output(self) -> bytes:
        return bytes(self.pdf.output())
