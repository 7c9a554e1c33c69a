"""Input shapes of the rights area: the non-status case events a coordinator records."""

from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True)
class ObjectionFiled:
    """The municipality reports that the resident objected (bezwaar) to the beschikking on ``filed_on``."""

    expected_version: int
    filed_on: date | None
    note: str | None = None


@dataclass(frozen=True)
class ObjectionDecided:
    """The decision on the pending objection (beslissing op bezwaar)."""

    expected_version: int
    outcome: str | None
    decided_on: date | None
    note: str | None = None


@dataclass(frozen=True)
class ReassessmentTalk:
    """A re-assessment talk (herindicatiegesprek) and its outcome; ``next_due`` for a set term."""

    expected_version: int
    outcome: str | None
    talk_on: date | None
    next_due: date | None = None
    note: str | None = None


@dataclass(frozen=True)
class RightsFilter:
    subcontractor_id: int | None = None
    since: date | None = None  # turn-aways, objections and talks from this day
    until: date | None = None  # up to and including this day
