"""Exports of the contract dashboard: its figures as CSV and XLSX, and the quarterly dashboard PDF.

Both read the figures through ``portal.dashboard.service.contract_dashboard``, so they hold exactly what the
person's dashboard page shows and nothing more: the same role check (403) and the same object check (404 for
a contract the person's organisation is not party to); a subcontractor gets its own scoped figures next to
the anonymous peer average, never another subcontractor's. The files are small (one row per subcontractor
at most), so they are made at once, never by a job. Every export is audited (action "export").
"""

import csv
import io
from datetime import date, datetime

from portal.accounts import audit, policy
from portal.accounts.rules import Actor, default_purpose
from portal.dashboard import service as dashboard_service
from portal.db import write_transaction
from portal.exports import rules
from portal.exports.rules import Block, Figure, Quarter, Value, shown
from portal.exports.service import MEDIA_TYPES, Download
from portal.lib.errors import InvalidInput, NotFound
from portal.lib.exports import PdfDocument, csv_cell, escape_formula, pdf_text
from portal.lib.formatting import format_date, format_datetime, today_nl
from portal.lib.tables_base import utc_now

PDF_MEDIA_TYPE = "application/pdf"


# --- CSV and XLSX ----------------------------------------------------------------------------------------


def _spreadsheet(value: Value | None):
    if isinstance(value, Figure):
        return value.spreadsheet_value()
    return value


def blocks_to_csv(blocks: list[Block]) -> bytes:
    """The blocks one under the other (title, column names, rows, an empty line): semicolon-separated UTF-8
    with a byte-order mark, as Dutch Excel opens it. Text is escaped against formulas; numbers stay numbers."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    for index, block in enumerate(blocks):
        if index:
            writer.writerow([])
        writer.writerow([escape_formula(block.title)])
        writer.writerow([escape_formula(header) for header in block.headers])
        for row in block.rows:
            writer.writerow([csv_cell(_spreadsheet(value)) for value in row])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def _sheet_title(title: str, used: set[str]) -> str:
    cleaned = "".join("_" if ch in "[]:*?/\\" else ch for ch in title).strip("'")[:31] or "Blad"
    name, n = cleaned, 2
    while name in used:
        name = f"{cleaned[:28]} {n}"
        n += 1
    used.add(name)
    return name


def blocks_to_xlsx(blocks: list[Block]) -> bytes:
    """One sheet per block: the column names in bold on row 1 (frozen), then the rows; numbers as numbers
    with the page's format (1.234, 25,0%, EUR 1.234,50), text escaped against formulas."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    workbook = Workbook()
    workbook.remove(workbook.active)
    used: set[str] = set()
    for block in blocks:
        ws = workbook.create_sheet(title=_sheet_title(block.title, used))
        ws.append([escape_formula(header) for header in block.headers])
        for cell in ws[1]:
            cell.font = Font(bold=True)
        for row in block.rows:
            values = []
            for value in row:
                plain = _spreadsheet(value)
                values.append(escape_formula(plain) if isinstance(plain, str) else plain)
            ws.append(values)
            for cell, value in zip(ws[ws.max_row], row, strict=False):
                if isinstance(value, Figure):
                    cell.number_format = rules.NUMBER_FORMATS[value.kind]
        for index, header in enumerate(block.headers, start=1):
            longest = max([len(header), *(len(shown(row[index - 1])) for row in block.rows if len(row) >= index)])
            ws.column_dimensions[ws.cell(row=1, column=index).column_letter].width = max(10, min(60, longest + 2))
        ws.freeze_panes = "A2"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


async def _audit(actor: Actor, contract_id: int, fmt: str, figures: dict, quarter: Quarter | None = None) -> None:
    new = {"soort": "dashboard", "formaat": fmt, "weergave": figures["scope"], "stand": figures["today"].isoformat()}
    if quarter is not None:
        new["kwartaal"] = quarter.code
    async with write_transaction():
        await audit.record(actor, "export", "dashboard", contract_id, contract_id=contract_id,
                           purpose=default_purpose(actor.role), new=new)


async def dashboard_export(actor: Actor, contract_id: int, fmt: str, today: date | None = None) -> Download:
    """The figures of the person's dashboard of this contract as CSV or XLSX (one sheet per block)."""
    if fmt not in MEDIA_TYPES:
        raise InvalidInput("Kies CSV of Excel (xlsx).", field="format")
    figures = await dashboard_service.contract_dashboard(actor, contract_id, today)
    blocks = rules.dashboard_blocks(figures)
    content = blocks_to_csv(blocks) if fmt == "csv" else blocks_to_xlsx(blocks)
    await _audit(actor, contract_id, fmt, figures)
    return Download(content, f"dashboard-contract-{contract_id}-{figures['today'].isoformat()}.{fmt}",
                    MEDIA_TYPES[fmt], sum(len(block.rows) for block in blocks))


# --- the quarterly PDF -----------------------------------------------------------------------------------


def _numeric_columns(block: Block) -> set[int]:
    return {index for row in block.rows for index, value in enumerate(row) if isinstance(value, Figure)}


def _pdf_table(doc: PdfDocument, block: Block, font_size: float) -> None:
    pdf = doc.pdf
    right = _numeric_columns(block)
    aligns = tuple("RIGHT" if index in right else "LEFT" for index in range(len(block.headers)))
    pdf.set_font("Helvetica", size=font_size)
    with pdf.table(col_widths=block.widths, text_align=aligns, line_height=font_size * 0.55,
                   first_row_as_headings=True) as table:
        for values in [list(block.pdf_headers or block.headers), *block.rows]:
            row = table.row()
            for value in values:
                row.cell(pdf_text(shown(value)))
    pdf.ln(2)


def _pdf_block(doc: PdfDocument, block: Block) -> None:
    if doc.pdf.will_page_break(40):  # a heading never alone at the foot of a page
        doc.pdf.add_page(orientation="L" if block.landscape else "P")
    doc.heading(block.title)
    if block.rows:
        _pdf_table(doc, block, 8 if block.landscape else 9.5)
    else:
        doc.paragraph(block.empty)
    if block.note:
        doc.paragraph(block.note, muted=True)


def quarterly_pdf_bytes(figures: dict, blocks: list[Block], quarter: Quarter, contract: dict,
                        made_at: datetime) -> bytes:
    """The quarterly dashboard report: the same blocks as the page, as tables, in Dutch formats."""
    title = f"Kwartaalrapportage dashboard {quarter.label}"
    name = figures["contract"]["name"]
    doc = PdfDocument(title, f"{name}, {format_date(quarter.start)} t/m {format_date(quarter.end)}",
                      footer=f"Inzicht - {title} - {name}")
    overview, *rest = blocks
    facts = [(row[0], shown(row[1])) for row in overview.rows if row[0] not in ("Toelichting", "Stand op")]
    facts.append(("Gemeente", contract["municipality_name"]))
    facts.append(("Hoofdaannemer", contract["main_contractor_name"] or "geen (de gemeente coördineert zelf)"))
    facts += [("Kwartaal", f"{quarter.label} ({format_date(quarter.start)} t/m {format_date(quarter.end)})"),
              ("Peildatum", format_date(figures["today"])), ("Gemaakt op", format_datetime(made_at))]
    doc.facts(facts)
    if figures["scope"] == "contract":
        as_of = ("de trend per kwartaal, de ingediende leercyclusrapportages en de besparing zijn berekend tot en "
                 "met die dag. De overige cijfers (casussen per status, doorlooptijden, signalen, de cijfers per "
                 "onderaannemer en wie de bal heeft)")
    else:
        as_of = "de ingediende leercyclusrapportages zijn geteld tot en met die dag. De overige cijfers"
    doc.paragraph(f"Peildatum {format_date(figures['today'])} (het einde van het kwartaal): {as_of} zijn de stand "
                  f"bij het maken van dit rapport op {format_datetime(made_at)}: Inzicht bewaart die niet per "
                  f"kwartaal.", muted=True)
    notes = [row[1] for row in overview.rows if row[0] == "Toelichting"]
    if notes:
        doc.bullets([shown(note) for note in notes])
    for block in (b for b in rest if not b.landscape):
        _pdf_block(doc, block)
    for block in (b for b in rest if b.landscape):
        doc.pdf.add_page(orientation="L")
        _pdf_block(doc, block)
    return doc.output()


async def quarterly_pdf(actor: Actor, contract_id: int, quarter_code: str | None,
                        today: date | None = None) -> Download:
    """The quarterly dashboard PDF of a complete quarter (default: the last one), its figures computed with the
    quarter's last day as "today". Same authorization as the dashboard page; audited."""
    today = today or today_nl()
    # the object check before the input check: another contract is "not found", whatever the quarter
    contract = next((row for row in await dashboard_service.dashboard_contracts(actor) if row["id"] == contract_id),
                    None)
    if contract is None:
        raise NotFound(policy.NOT_FOUND_CONTRACT)
    try:
        quarter = rules.parse_quarter(quarter_code) or rules.last_complete_quarter(today)
    except ValueError:
        raise InvalidInput("Kies een kwartaal uit de lijst, bijvoorbeeld 2026-K3.", field="kwartaal") from None
    refusal = rules.check_quarter(quarter, today, contract["start_date"])
    if refusal:
        raise InvalidInput(refusal, field="kwartaal")
    figures = await dashboard_service.contract_dashboard(actor, contract_id, quarter.end)
    if figures["scope"] == "contract":
        # who holds the ball is known for now only: its ages count to today, not to the quarter's end
        now = await dashboard_service.contract_dashboard(actor, contract_id, today)
        figures = {**figures, "ball": now["ball"]}  # a new dict: the service's figures may be shared
    blocks = rules.dashboard_blocks(figures)
    content = quarterly_pdf_bytes(figures, blocks, quarter, contract, utc_now())
    await _audit(actor, contract_id, "pdf", figures, quarter)
    return Download(content, f"kwartaalrapportage-dashboard-contract-{contract_id}-{quarter.code}.pdf",
                    PDF_MEDIA_TYPE, sum(len(block.rows) for block in blocks))


def quarter_options(figures: dict) -> list[dict]:
    """The quarters the dashboard page offers for the PDF (newest first; the first is the default)."""
    start = figures["contract"].get("start_date")
    return [{"value": q.code, "label": q.label, "period": f"{format_date(q.start)} t/m {format_date(q.end)}"}
            for q in rules.quarter_choices(figures["today"], start if isinstance(start, date) else None)]
