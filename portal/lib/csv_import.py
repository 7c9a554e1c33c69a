"""Reading uploaded CSV files the way Dutch offices write them.

Excel in a Dutch locale writes semicolons and often a UTF-8 byte order mark; other systems write
commas. Structural problems (not CSV, missing columns, too large) raise ``InvalidInput`` at once; the
checks of each row's content belong to the area that imports it, which reports them by line number.
"""

import csv
import io
from dataclasses import dataclass

from portal.lib.errors import InvalidInput

MAX_BYTES = 5 * 1024 * 1024
MAX_ROWS = 20_000


@dataclass(frozen=True)
class CsvRow:
    line: int  # the line number in the file as a spreadsheet shows it (the header is line 1)
    values: dict[str, str]


@dataclass(frozen=True)
class RowError:
    line: int
    column: str | None
    message: str


def read_csv(data: bytes, required: tuple[str, ...], optional: tuple[str, ...] = (),
             max_rows: int = MAX_ROWS) -> list[CsvRow]:
    if len(data) > MAX_BYTES:
        megabytes = MAX_BYTES // (1024 * 1024)
        raise InvalidInput(f"Het bestand is groter dan {megabytes} MB; splits het op.", field="bestand")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidInput("Het bestand is geen UTF-8-tekst. Sla het op als 'CSV UTF-8'.", field="bestand") from exc
    if not text.strip():
        raise InvalidInput("Het bestand is leeg.", field="bestand")
    if "\x00" in text:  # binary junk (and PostgreSQL cannot store a NUL in text)
        raise InvalidInput("Het bestand bevat binaire tekens (NUL); is het wel een CSV-bestand?", field="bestand")
    first_line = text.split("\n", 1)[0]
    delimiter = ";" if first_line.count(";") > first_line.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    try:
        header = [name.strip().lower() for name in next(reader)]
        missing = [name for name in required if name not in header]
        if missing:
            raise InvalidInput(f"Kolommen ontbreken in de kopregel: {', '.join(missing)}.", field="bestand")
        unknown = [name for name in header if name and name not in required + optional]
        if unknown:
            raise InvalidInput(f"Onbekende kolommen in de kopregel: {', '.join(unknown)}.", field="bestand")
        rows = []
        for values in reader:
            if not any(value.strip() for value in values):
                continue  # blank lines at the end are common and harmless
            if len(rows) >= max_rows:
                raise InvalidInput(f"Het bestand heeft meer dan {max_rows} regels; splits het op.", field="bestand")
            if len(values) != len(header):
                raise InvalidInput(
                    f"Regel {reader.line_num}: {len(values)} velden, de kopregel heeft er {len(header)}.",
                    field="bestand",
                )
            rows.append(CsvRow(reader.line_num, {name: value.strip() for name, value in zip(header, values,
                                                                                            strict=True)}))
    except csv.Error as exc:
        raise InvalidInput(f"Regel {reader.line_num}: dit is geen geldige CSV ({exc}).", field="bestand") from exc
    return rows
