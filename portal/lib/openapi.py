"""The error answer of the JSON API, one shape for every route and every status, and its OpenAPI declaration.

``{"status_code": 404, "detail": "<Dutch>", "code": "not_found", "field": null}``: ``detail`` is for people,
``code`` for programs. Routes declare the statuses they can answer with ``error_responses``, so the schema at
/api/schema documents every answer a client can get (Schemathesis checks it in tests/security). Request bodies
that refuse unknown fields say so in the schema (``StrictStructSchemaPlugin``).
"""

from typing import Annotated, Any

import msgspec
from litestar._openapi.schema_generation.plugins import StructSchemaPlugin  # the one Litestar uses itself
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import Schema
from litestar.typing import FieldDefinition

# The code of an answer that no domain error gave a more precise one.
STATUS_CODES = {
    400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
    409: "conflict", 413: "too_large", 415: "unsupported_media_type", 422: "invalid_input",
    429: "too_many_requests", 503: "unavailable",
}

_DESCRIPTIONS = {
    400: "Onleesbaar verzoek: geen geldige JSON, of een parameter van het verkeerde type.",
    401: "Geen of een ingetrokken API-sleutel, of geen sessie.",
    403: "Uw rol mag dit niet.",
    404: "Onbekend, of niet zichtbaar voor u.",
    409: "Stap niet toegestaan (illegal_transition), verouderde versie (stale_version) of zelfde Idempotency-Key "
         "nog bezig.",
    413: "Het verzoek is groter dan toegestaan.",
    422: "Ongeldige invoer; field noemt het veld.",
    429: "Te veel verzoeken in korte tijd; probeer het over een minuut opnieuw (zie de RateLimit-headers).",
}


class ApiError(msgspec.Struct):
    status_code: int
    detail: Annotated[str, msgspec.Meta(description="Uitleg in het Nederlands.")]
    code: Annotated[str, msgspec.Meta(description=(
        "bad_request, unauthorized, forbidden, not_found, invalid_input, illegal_transition, stale_version, "
        "conflict, too_large, too_many_requests, idempotency_key_reused, idempotency_in_progress."))]
    field: str | None = None


def error_responses(*statuses: int) -> dict[int, ResponseSpec]:
    return {status: ResponseSpec(ApiError, description=_DESCRIPTIONS[status]) for status in statuses}


READ_ERRORS = error_responses(400, 401, 403, 404, 422, 429)
WRITE_ERRORS = error_responses(400, 401, 403, 404, 409, 413, 422, 429)


def code_for_status(status_code: int) -> str:
    return STATUS_CODES.get(status_code, "error")


def code_for(exc: Exception, status_code: int) -> str:
    """The ``code`` of a domain error (its own, or that of its kind), else the one of the status."""
    from portal.lib.errors import Conflict, IllegalTransition, InvalidInput, NotFound, NotPermitted

    own = getattr(exc, "code", None)
    if isinstance(own, str) and own:
        return own
    for kind, code in ((InvalidInput, "invalid_input"), (NotPermitted, "forbidden"), (NotFound, "not_found"),
                       (IllegalTransition, "illegal_transition"), (Conflict, "stale_version")):
        if isinstance(exc, kind):
            return code
    return code_for_status(status_code)


# Framework errors (not domain errors) whose English detail must not reach a person.
FRAMEWORK_MESSAGES = {
    400: "Het verzoek is niet geldig.",
    405: "Deze methode is hier niet toegestaan.",
    413: "Het verzoek is te groot. Een formulier of bestand mag hier hoogstens {max_mb} MB zijn.",
    415: "Dit soort inhoud (Content-Type) wordt hier niet aangenomen.",
}


class StrictStructSchemaPlugin(StructSchemaPlugin):
    """Litestar documents a msgspec Struct without ``additionalProperties``, so the schema says unknown fields
    are fine while a Struct with ``forbid_unknown_fields=True`` refuses them (400). This says so in the schema."""

    def is_plugin_supported_field(self, field_definition: FieldDefinition) -> bool:
        return super().is_plugin_supported_field(field_definition) and bool(
            getattr(field_definition.type_, "__struct_config__", None)
            and field_definition.type_.__struct_config__.forbid_unknown_fields)

    def to_openapi_schema(self, field_definition: FieldDefinition, schema_creator: Any) -> Schema:
        schema = super().to_openapi_schema(field_definition, schema_creator)
        schema.additional_properties = False
        return schema
