"""Input shapes for savings: amounts in Dutch notation, periods, sources. Errors are Dutch ``InvalidInput``
naming the form field (the field names are the form's, so the page can point at the right input)."""

import re
from dataclasses import dataclass
from datetime import date
from typing import Any

from portal.lib.codelists import ProductCategory
from portal.lib.errors import InvalidInput
from portal.lib.formatting import parse_date
from portal.savings.rules import DEFAULT_LEVEL, Source, validate_period

# 1.234.567,89 / 1234567,89 / 1234567 / EUR 1.234,5 / € 12,00 ; thousands dots only in groups of three
_AMOUNT = re.compile(r"^(?:€|eur)?\s*(-)?\s*(\d{1,3}(?:\.\d{3})+|\d+)(?:,(\d{1,2}))?$", re.IGNORECASE)
MAX_AMOUNT_CENTS = 10**14  # EUR 1 biljoen: beyond anything a municipality spends
AMOUNT_HINT = "Vul het bedrag in euro's in zoals 1.234.567,89 (punten voor duizendtallen, een komma voor de centen)"


def parse_amount(text: Any, *, field: str = "bedrag", allow_negative: bool = False, required: bool = True
                 ) -> int | None:
    """Cents from an amount typed in Dutch notation; a clear Dutch error for anything else."""
    raw = "" if text is None else str(text).strip()
    if not raw:
        if required:
            raise InvalidInput(f"{AMOUNT_HINT}.", field=field)
        return None
    match = _AMOUNT.match(raw.replace("\u00a0", " "))
    if not match:
        raise InvalidInput(f"{AMOUNT_HINT} (niet: {raw[:40]!r}).", field=field)
    sign, euros, cents = match.groups()
    if len(euros.replace(".", "")) > 15:  # int() refuses 4300+ digits with an error of its own
        raise InvalidInput(f"Het bedrag {raw[:40]!r} is onwaarschijnlijk groot; controleer het.", field=field)
    value = int(euros.replace(".", "")) * 100 + int((cents or "0").ljust(2, "0"))
    if sign:
        if not allow_negative:
            raise InvalidInput("Het bedrag kan niet negatief zijn.", field=field)
        value = -value
    if abs(value) >= MAX_AMOUNT_CENTS:
        raise InvalidInput(f"Het bedrag {raw!r} is onwaarschijnlijk groot; controleer het.", field=field)
    return value


def _text(data: dict, key: str) -> str:
    value = data.get(key)
    return "" if value is None else str(value).strip()


def _int(data: dict, key: str, message: str) -> int:
    try:
        return int(_text(data, key))
    except ValueError:
        raise InvalidInput(message, field=key) from None


@dataclass(frozen=True)
class ActualInput:
    period_start: date
    period_end: date
    spend_cents: int
    source: Source
    note: str = ""
    corrects: int | None = None


def parse_actual(data: dict) -> ActualInput:
    start = parse_date(_text(data, "van"), field="van")
    end = parse_date(_text(data, "tot"), field="tot")
    if start is None:
        raise InvalidInput("Vul de eerste dag van de periode in (dd-mm-jjjj).", field="van")
    if end is None:
        raise InvalidInput("Vul de laatste dag van de periode in (dd-mm-jjjj).", field="tot")
    validate_period(start, end)
    amount = parse_amount(data.get("bedrag"), field="bedrag")
    assert amount is not None
    corrects = None
    if _text(data, "corrigeert"):
        corrects = _int(data, "corrigeert", "Kies het bedrag dat u corrigeert.")
    note = _text(data, "toelichting")
    if len(note) > 1000:
        raise InvalidInput("Houd de toelichting onder de 1000 tekens.", field="toelichting")
    if corrects is not None and not note:
        raise InvalidInput("Leg in de toelichting uit wat de correctie herstelt.", field="toelichting")
    return ActualInput(start, end, amount, Source.parse(_text(data, "bron") or None, field="bron"), note, corrects)


@dataclass(frozen=True)
class YearInput:
    year: int
    level: str
    target_cents: int
    baseline_cents: int | None = None
    lump_sum_cents: int | None = None
    indexation_cents: int | None = None


_LEVEL = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


def parse_year(data: dict) -> YearInput:
    year = _int(data, "jaar", "Vul het jaar in, bijvoorbeeld 2026.")
    level = _text(data, "niveau") or DEFAULT_LEVEL
    if not _LEVEL.match(level):
        raise InvalidInput("Kies een niveau van de doelstelling.", field="niveau")
    target = parse_amount(data.get("doel"), field="doel")
    assert target is not None
    return YearInput(year, level, target,
                     parse_amount(data.get("basislijn"), field="basislijn", required=False),
                     parse_amount(data.get("aanneemsom"), field="aanneemsom", required=False),
                     parse_amount(data.get("indexatie"), field="indexatie", required=False))


@dataclass(frozen=True)
class TermsInput:
    terms: str
    tolerance_pct: int


def parse_terms(data: dict) -> TermsInput:
    terms = _text(data, "afspraken")
    if len(terms) > 4000:
        raise InvalidInput("Houd de afspraken onder de 4000 tekens.", field="afspraken")
    tolerance = _int(data, "tolerantie", "Vul de tolerantie in als een heel percentage, bijvoorbeeld 5.")
    if not 0 <= tolerance <= 50:
        raise InvalidInput("De tolerantie ligt tussen 0 en 50 procent.", field="tolerantie")
    return TermsInput(terms, tolerance)


@dataclass(frozen=True)
class InvestmentInput:
    invested_on: date
    amount_cents: int
    description: str


MAX_DESCRIPTION = 300


def parse_investment(data: dict) -> InvestmentInput:
    """A one-off investment: a date (dd-mm-jjjj), a positive amount in Dutch notation and what it paid for."""
    invested_on = parse_date(_text(data, "datum"), field="datum")
    if invested_on is None:
        raise InvalidInput("Vul de datum van de investering in (dd-mm-jjjj).", field="datum")
    amount = parse_amount(data.get("bedrag"), field="bedrag")
    assert amount is not None
    if amount == 0:
        raise InvalidInput("Een investering van EUR 0,00 hoeft niet te worden vastgelegd; vul het bedrag in.",
                           field="bedrag")
    description = " ".join(_text(data, "omschrijving").split())
    if not description:
        raise InvalidInput("Beschrijf waarin is geïnvesteerd, bijvoorbeeld 'Opbouw wijkteams'.", field="omschrijving")
    if len(description) > MAX_DESCRIPTION:
        raise InvalidInput(f"Houd de omschrijving onder de {MAX_DESCRIPTION} tekens.", field="omschrijving")
    return InvestmentInput(invested_on, amount, description)


@dataclass(frozen=True)
class CategoryTargetInput:
    year: int
    level: str
    category: ProductCategory
    target_cents: int


def parse_category_target(data: dict) -> CategoryTargetInput:
    """A year's savings target for one product category (WMO020) within a level."""
    year = _int(data, "jaar", "Vul het jaar in, bijvoorbeeld 2026.")
    level = _text(data, "niveau") or DEFAULT_LEVEL
    if not _LEVEL.match(level):
        raise InvalidInput("Kies een niveau van de doelstelling.", field="niveau")
    if not _text(data, "categorie"):
        raise InvalidInput("Kies een productcategorie (WMO020).", field="categorie")
    category = ProductCategory.parse(_text(data, "categorie"), field="categorie")
    target = parse_amount(data.get("doel"), field="doel")
    assert target is not None
    return CategoryTargetInput(year, level, category, target)
