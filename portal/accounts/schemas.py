"""Input shapes for accounts: organisations, users, login. Errors come back as Dutch ``InvalidInput``."""

import re
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from portal.accounts.rules import OrganisationKind, Role
from portal.lib.errors import InvalidInput

MIN_PASSWORD_LENGTH = 12
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

Model = TypeVar("Model", bound=BaseModel)

FIELD_LABELS = {
    "name": "naam",
    "kind": "soort organisatie",
    "kvk_number": "KvK-nummer",
    "email": "e-mailadres",
    "display_name": "naam",
    "organisation_id": "organisatie",
    "role": "rol",
    "privacy_officer": "privacyrol",
    "password": "wachtwoord",
}


def parse(model: type[Model], data: dict[str, Any]) -> Model:
    """Validate ``data`` into ``model``; the first problem becomes an ``InvalidInput`` with a Dutch message."""
    cleaned = {key: (value.strip() if isinstance(value, str) else value) for key, value in data.items()}
    cleaned = {key: value for key, value in cleaned.items() if value not in ("", None)}
    try:
        return model.model_validate(cleaned)
    except ValidationError as exc:
        error = exc.errors()[0]
        field = str(error["loc"][0]) if error["loc"] else None
        label = FIELD_LABELS.get(field or "", field or "invoer")
        if error["type"] == "missing":
            message = f"Vul het veld '{label}' in."
        elif error["type"] == "value_error":
            message = str(error["msg"]).removeprefix("Value error, ")
        else:
            message = f"Het veld '{label}' is niet goed ingevuld."
        raise InvalidInput(message, field=field) from None


def check_password_strength(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(f"Kies een wachtwoord van minstens {MIN_PASSWORD_LENGTH} tekens.", field="password")
    return password


class OrganisationInput(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    kind: OrganisationKind
    kvk_number: str | None = None

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not 2 <= len(value) <= 200:
            raise ValueError("Een naam heeft 2 tot 200 tekens.")
        return value

    @field_validator("kvk_number")
    @classmethod
    def _kvk(cls, value: str | None) -> str | None:
        if value is not None and not (value.isascii() and value.isdigit() and len(value) == 8):
            raise ValueError("Een KvK-nummer bestaat uit 8 cijfers.")
        return value


class UserInput(BaseModel):
    model_config = ConfigDict(frozen=True)

    email: str
    display_name: str
    organisation_id: int
    role: Role
    # The AVG privacy role (access requests); only a contract manager can hold it.
    privacy_officer: bool = False

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        value = value.lower()
        if len(value) > 254 or not _EMAIL.match(value):
            raise ValueError("Vul een geldig e-mailadres in, zoals naam@gemeente.nl.")
        return value

    @field_validator("display_name")
    @classmethod
    def _display_name(cls, value: str) -> str:
        if not 2 <= len(value) <= 200:
            raise ValueError("Een naam heeft 2 tot 200 tekens.")
        return value
