"""What a service order keeps on record: evidence, timeline entries, appeals, refunds, deadlines and
milestones. Plain data; the rules that change them are in the other modules of this package."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC
from enum import StrEnum
from typing import Any

from pydantic import AwareDatetime, BaseModel, Field

from shared.schemas import AppealOutcome, DeadlineKind, Money, PartyRole


class Evidence(BaseModel):
    kind: str = Field(min_length=1, max_length=64, description="e.g. sow, acceptance_document, logistics")
    name: str = Field(min_length=1, max_length=255)
    sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")
    file_id: str | None = Field(
        default=None, max_length=64, description="An uploaded file of this service order"
    )


class TimelineEntry(BaseModel):
    """One recorded operation. `hash` covers this entry and the previous entry's hash, so any edit or removal
    of an earlier entry breaks every hash after it (tamper-evident, dossier §1.1: the log is the evidence)."""

    seq: int
    at: AwareDatetime
    actor_role: PartyRole
    actor_account_id: str | None
    action: str
    node: str
    to_node: str | None
    note: str = ""
    details: dict[str, Any] = Field(default_factory=dict)
    prev_hash: str
    hash: str = ""

    def digest(self) -> str:
        body = self.model_dump(mode="json", exclude={"hash"})
        # The instant in UTC at millisecond precision: what BSON keeps, however the time zone is spelled.
        body["at"] = self.at.astimezone(UTC).isoformat(timespec="milliseconds")
        return hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


class Appeal(BaseModel):
    appeal_id: str
    raised_by_role: PartyRole
    raised_by_account_id: str
    node: str
    reason: str
    demands: str
    attachments: list[str] = Field(default_factory=list)
    raised_at: AwareDatetime
    respond_by: AwareDatetime | None = None
    escalated_at: AwareDatetime | None = None  # the SLA passed without a resolution
    assignee_account_id: str | None = None  # the operator handling it (the operators' queue)
    outcome: AppealOutcome | None = None
    resolved_at: AwareDatetime | None = None
    resolved_by_account_id: str | None = None


class RefundStatus(StrEnum):
    REQUESTED = "requested"
    APPROVED = "approved"
    REJECTED = "rejected"


# A refund the orders service decided (refund.decided): orders owns refunds, supervision keeps the record.
# `requested_at` and the status `requested` are on service orders from before, when supervision took the
# requests.
class Refund(BaseModel):
    refund_id: str
    amount: Money
    reason: str
    requested_at: AwareDatetime | None = None
    status: RefundStatus = RefundStatus.REQUESTED
    opinion: str = ""
    decided_at: AwareDatetime | None = None


class Deadline(BaseModel):
    """Something happens at `due_at` unless `party` acts first. While an appeal is open it is paused and keeps
    the seconds it had left (`paused_remaining`); it resumes with exactly those."""

    deadline_id: str
    kind: DeadlineKind
    node: str | None
    party: PartyRole
    due_at: AwareDatetime
    consequence: str
    paused_remaining: float | None = None

    @property
    def running(self) -> bool:
        return self.paused_remaining is None


class MilestoneState(BaseModel):
    milestone_id: str
    title: str
    proportion: Money
    accepted_at: AwareDatetime | None = None
