"""Code lists (DESIGN.md appendix A): national iWmo lists where they exist, plus a few of our own.

Each list is a ``StrEnum`` whose value is the code as stored and exchanged, written as a table of
``MEMBER = code, Dutch label``. The shared base gives every list ``.label``, ``parse()`` and ``choices()``.
"""

from enum import StrEnum
from typing import Self

from portal.lib.errors import InvalidInput


class CodeList(StrEnum):
    """Base of every code list. Subclasses pass the Dutch error text as class keywords:

    ``unknown`` starts the message for an unknown code, ``hint`` tells which codes are valid.
    """

    label: str
    _unknown: str
    _hint: str

    def __new__(cls, code: str, label: str) -> Self:
        member = str.__new__(cls, code)
        member._value_ = code
        member.label = label
        return member

    def __init_subclass__(cls, *, unknown: str = "Onbekende code", hint: str = "", **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        cls._unknown = unknown
        cls._hint = hint

    @classmethod
    def parse(cls, value: object, *, field: str | None = None) -> Self:
        """The member for ``value``; raises ``InvalidInput`` (with ``field``) for an unknown code.

        Tolerant of what people and exports do to codes: surrounding whitespace, letter case ("l3",
        "zin"), and a dropped leading zero ("1" for "01"), the latter only where exactly one code fits.
        """
        if isinstance(value, cls):
            return value
        shown = value
        if isinstance(value, str):
            text = shown = value.strip()
            exact = [member for member in cls if member.value.casefold() == text.casefold()]
            padded = [member for member in cls if text.isdigit() and text.zfill(len(member)) == member.value]
            matches = exact or padded  # an exact code always wins over a padded reading
            if len(matches) == 1:
                return matches[0]
        hint = f" {cls._hint}" if cls._hint else ""
        raise InvalidInput(f"{cls._unknown}: {shown!r}.{hint}", field=field)

    @classmethod
    def choices(cls) -> list[tuple[str, str]]:
        """``(code, "code - label")`` pairs for a select box, in table order."""
        return [(member.value, f"{member.value} - {member.label}") for member in cls]


class ProductCategory(
    CodeList, unknown="Onbekende productcategorie", hint="Kies een code uit WMO020 (01-18)."
):
    """iWmo WMO020."""

    HOUSEHOLD_HELP = "01", "Hulp bij het huishouden"
    GUIDANCE = "02", "Begeleiding"
    PERSONAL_CARE = "03", "Persoonlijke verzorging"
    SHORT_STAY = "04", "Kortdurend verblijf"
    HOUSING_SERVICES = "05", "Woondiensten"
    OTHER_INDIVIDUAL_SUPPORT = "06", "Overige individuele ondersteuning"
    DAY_ACTIVITIES = "07", "Dagbesteding"
    TRANSPORT_SERVICES = "08", "Vervoerdiensten"
    OTHER_GROUP_SUPPORT = "09", "Overige groepsgerichte ondersteuning"
    OTHER_CUSTOM_ARRANGEMENTS = "10", "Overige maatwerkarrangementen"
    WHEELCHAIRS = "11", "Rolstoelen"
    TRANSPORT_AIDS = "12", "Vervoervoorzieningen"
    HOUSING_AIDS = "13", "Woonvoorzieningen"
    OTHER_AIDS = "14", "Overige hulpmiddelen"
    SHELTERED_HOUSING = "15", "Beschermd wonen"
    SHELTER = "16", "Opvang"
    EMERGENCY_SHELTER = "17", "Spoedopvang"
    OTHER_SHELTERED_HOUSING_AND_SHELTER = "18", "Overige beschermd wonen en opvang"


class RejectionReason(
    CodeList,
    unknown="Onbekende reden van afwijzing",
    hint="Kies een code uit WJ759 (1-9) of een lokale code (L1-L7).",
):
    """iWmo WJ759, plus local reasons (L-codes) for turn-aways the national list does not name."""

    NEW_APPLICATION = "1", "Geen wijziging maar nieuwe aanvraag"
    OVER_BUDGET = "2", "Past niet binnen budget"
    NO_CONTRACT = "3", "Geen contract"
    OUTSIDE_CONTRACT = "4", "Past niet binnen contract"
    OTHER_MUNICIPALITY = "5", "Andere gemeente"
    STACKING = "6", "Stapeling"
    CARE_CONTENT = "7", "Zorginhoudelijke afkeur"
    RESIDENCE_PRINCIPLE = "8", "Woonplaatsbeginsel"
    AGE_LIMIT = "9", "Leeftijdsgrens bereikt"
    COLLECTIVE_SUFFICES = "L1", "Algemene voorziening volstaat"
    OWN_STRENGTH = "L2", "Eigen kracht of netwerk"
    NO_CAPACITY = "L3", "Geen capaciteit"
    OUTSIDE_EXPERTISE = "L4", "Buiten expertise"
    UNREACHABLE = "L5", "Inwoner onbereikbaar"
    SAFETY = "L6", "Veiligheid"
    OTHER_LAW = "L7", "Andere wet (Wlz, Zvw, Jeugdwet)"


class EndReason(
    CodeList,
    unknown="Onbekende reden van beëindiging",
    hint="Kies een code uit WMO588 (02, 19-23, 31, 36-39).",
):
    """iWmo WMO588 (the subset used for lump-sum contracts)."""

    DECEASED = "02", "Overlijden"
    AS_PLANNED = "19", "Volgens plan beëindigd"
    TEMPORARILY = "20", "Tijdelijk beëindigd"
    BY_CLIENT = "21", "Eenzijdig door cliënt"
    BY_PROVIDER = "22", "Eenzijdig door aanbieder"
    EARLY_BY_AGREEMENT = "23", "Voortijdig in overeenstemming"
    MOVED = "31", "Verhuizing"
    BY_MUNICIPALITY = "36", "Door gemeente"
    CHANGE_REQUEST = "37", "Wijzigingsverzoek"
    OTHER_PROVIDER = "38", "Andere aanbieder"
    OTHER_DOMAIN = "39", "Ander domein"


class Unit(
    CodeList, unknown="Onbekende eenheid", hint="Kies een code uit WJ756 (01, 04, 14, 16, 82, 83, 84)."
):
    """iWmo WJ756."""

    MINUTE = "01", "minuut"
    HOUR = "04", "uur"
    DAY_AND_NIGHT = "14", "etmaal"
    DAY_PART = "16", "dagdeel"
    PIECES_EFFORT = "82", "stuks"
    EURO = "83", "euro"
    PIECES_OUTPUT = "84", "stuks"


class Frequency(CodeList, unknown="Onbekende frequentie", hint="Kies een code uit WMO757 (1, 2, 4, 6)."):
    """iWmo WMO757."""

    PER_DAY = "1", "per dag"
    PER_WEEK = "2", "per week"
    PER_MONTH = "4", "per maand"
    TOTAL = "6", "totaal binnen geldigheid"


class DeliveryForm(CodeList, unknown="Onbekende leveringsvorm", hint="Kies ZIN of PGB."):
    IN_KIND = "ZIN", "Zorg in natura"
    PERSONAL_BUDGET = "PGB", "Persoonsgebonden budget"


class Domain(CodeList, unknown="Onbekend domein", hint="Kies wmo of jeugd."):
    WMO = "wmo", "Wmo"
    YOUTH = "jeugd", "Jeugd"


class ProvisionType(
    CodeList,
    unknown="Onbekend soort voorziening",
    hint="Kies individual (maatwerkvoorziening) of collective (algemene voorziening).",
):
    # Only an individual provision needs a beschikking (and so can be objected to).
    INDIVIDUAL = "individual", "Maatwerkvoorziening"
    COLLECTIVE = "collective", "Algemene voorziening"


class Urgency(CodeList, unknown="Onbekende urgentie", hint="Kies normal, high of crisis."):
    NORMAL = "normal", "Normaal"
    HIGH = "high", "Hoog"
    CRISIS = "crisis", "Crisis"
