"""Pure rules about organisations, roles and who may do what. No I/O."""

from enum import StrEnum


class OrganisationKind(StrEnum):
    MUNICIPALITY = "municipality"
    MAIN_CONTRACTOR = "main_contractor"
    SUBCONTRACTOR = "subcontractor"
    PLATFORM = "platform"

    @property
    def label(self) -> str:
        return ORGANISATION_KIND_LABELS[self]


ORGANISATION_KIND_LABELS = {
    OrganisationKind.MUNICIPALITY: "Gemeente",
    OrganisationKind.MAIN_CONTRACTOR: "Hoofdaannemer",
    OrganisationKind.SUBCONTRACTOR: "Onderaannemer",
    OrganisationKind.PLATFORM: "Platformbeheer",
}


class Role(StrEnum):
    CONTRACT_MANAGER = "contract_manager"
    COORDINATOR = "coordinator"
    SUBCONTRACTOR = "subcontractor"
    ADMIN = "admin"

    @property
    def label(self) -> str:
        return ROLE_LABELS[self]


ROLE_LABELS = {
    Role.CONTRACT_MANAGER: "Contractmanager",
    Role.COORDINATOR: "Coördinator",
    Role.SUBCONTRACTOR: "Onderaannemer",
    Role.ADMIN: "Beheerder",
}
