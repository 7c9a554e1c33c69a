"""The case lifecycle as an explicit state machine. Pure: no I/O, no framework."""

from enum import StrEnum


class CaseStatus(StrEnum):
    REGISTERED = "registered"
    ASSESSMENT = "assessment"
    ALLOCATION_REQUESTED = "allocation_requested"
    ACCEPTED = "accepted"
    WAITING_LIST = "waiting_list"
    IN_CARE = "in_care"
    ON_HOLD = "on_hold"
    ENDED = "ended"
    CLOSED = "closed"
    REJECTED = "rejected"
    REFERRED_COLLECTIVE = "referred_collective"
    WITHDRAWN = "withdrawn"
    REOPENED = "reopened"
