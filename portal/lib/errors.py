"""Typed domain errors. Each carries a Dutch message meant for the person who caused it.

The web layer maps every class to one HTTP status (see ``portal.app``); a 500 is always a bug.
"""


class DomainError(Exception):
    """Base of every error a person can cause. ``message`` is Dutch and shown as is."""

    status_code = 400

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class InvalidInput(DomainError):
    """Input that is malformed or incomplete: a missing reason, an unknown code, an invalid BSN."""

    status_code = 422


class IllegalTransition(DomainError):
    """A case, signal or report cannot go from its current state to the one asked for."""

    status_code = 409


class NotPermitted(DomainError):
    """The actor's role or organisation may not do this (the object itself may be known to them)."""

    status_code = 403


class NotFound(DomainError):
    """The object does not exist, or the actor may not know that it exists."""

    status_code = 404


class Conflict(DomainError):
    """Someone else changed the object in the meantime (optimistic locking)."""

    status_code = 409
