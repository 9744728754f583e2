"""What callers send: the bodies of the HTTP commands (they become the OpenAPI schemas). Every field is
bounded here, at the edge, so a malformed body is a 422 naming the field and never reaches the domain."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, BaseModel, Field

from services.supervision.rules import AcceptanceElements
from services.supervision.service_order import Evidence
from shared.platform.validation import E164Phone
from shared.schemas import AppealOutcome

Attachment = Annotated[str, Field(min_length=1, max_length=255)]


def _plausible(at: datetime) -> datetime:
    # An aware instant near year 1 or 9999 overflows when the database converts it to UTC: refuse it here.
    if not 2000 <= at.year <= 2100:
        raise ValueError("must be between the years 2000 and 2100")
    return at


Instant = Annotated[AwareDatetime, AfterValidator(_plausible)]


class ActionRequest(BaseModel):
    note: str = Field("", max_length=2000)
    evidence: list[Evidence] = Field(default_factory=list, max_length=20)
    actual_activation_time: Instant | None = Field(
        None,
        description="When the service really started (deliver; License 2.0: the detected activation); "
        "the order's validity starts here (dossier §10)",
    )
    acceptance_elements: AcceptanceElements | None = Field(
        None,
        description="The acceptance document's key elements; required with the delivery when the order "
        "follows a platform-review rule (dossier §3.2)",
    )
    recipient_phone: E164Phone | None = Field(
        None, description="Hardware courier sign-off: the courier's recipient phone (dossier §2.4)"
    )


class AppealRequest(BaseModel):
    reason: str = Field(min_length=1, max_length=2000)
    demands: str = Field(min_length=1, max_length=2000)
    attachments: list[Attachment] = Field(
        default_factory=list, max_length=20, description="Names or uploaded file ids of the evidence"
    )


class ResolveAppeal(BaseModel):
    outcome: AppealOutcome
    node: str | None = Field(
        None,
        min_length=1,
        max_length=64,
        pattern=r"^[a-z_]+$",
        description="resume: the node to go back to (default: where the appeal froze the flow)",
    )
    note: str = Field("", max_length=2000)


class AssignAppeal(BaseModel):
    assignee_account_id: str | None = Field(
        None, min_length=1, max_length=128, description="The operator who handles it (default: the caller)"
    )
