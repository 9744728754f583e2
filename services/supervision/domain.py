"""The service order (服务监管单): where its flow stands, who may act, what each step leaves on record."""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import AwareDatetime, BaseModel, Field

from services.supervision.flows import Emits, FlowTemplate
from shared.platform.errors import DomainError, Forbidden, InvalidInput
from shared.schemas import (
    AcceptanceDone,
    AcceptanceDonePayload,
    AppealRaised,
    AppealRaisedPayload,
    Event,
    MilestoneConfirmed,
    MilestoneConfirmedPayload,
    Parties,
    PartyRole,
    ProductSnapshot,
)

PRODUCER = "supervision"
GENESIS = "0" * 64


class Status(StrEnum):
    ACTIVE = "active"
    FROZEN = "frozen"  # an appeal is open: every transition is refused (dossier §5.3)
    COMPLETED = "completed"


class Frozen(DomainError):
    code = "frozen_by_appeal"


class Evidence(BaseModel):
    kind: str = Field(min_length=1, max_length=64, description="e.g. sow, acceptance_document, screenshot")
    name: str = Field(min_length=1, max_length=255)
    sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")


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


class ServiceOrder(BaseModel):
    service_order_id: str
    order_id: str
    parties: Parties
    product: ProductSnapshot
    template: FlowTemplate
    node: str | None
    status: Status = Status.ACTIVE
    open_appeal: Appeal | None = None
    evidence: list[Evidence] = Field(default_factory=list)
    actual_activation_time: AwareDatetime | None = None
    created_at: AwareDatetime
    completed_at: AwareDatetime | None = None
    timeline: list[TimelineEntry] = Field(default_factory=list)
    version: int = 0

    @staticmethod
    def id_for(order_id: str) -> str:
        """One service order per purchase order: a deterministic id makes creation naturally idempotent."""
        return f"SO-{order_id}"

    @classmethod
    def open(cls, order_id: str, parties: Parties, product: ProductSnapshot, template: FlowTemplate,
             now: datetime) -> ServiceOrder:
        so = cls(service_order_id=cls.id_for(order_id), order_id=order_id, parties=parties, product=product,
                 template=template, node=template.start, created_at=now)
        so._record(now, PartyRole.SYSTEM, None, "open", template.start, template.start,
                   details={"template": template.template_id, "template_version": template.version})
        return so

    def role_of(self, account_id: str) -> PartyRole:
        if account_id == self.parties.buyer_account_id:
            return PartyRole.BUYER
        if account_id == self.parties.merchant_account_id:
            return PartyRole.MERCHANT
        raise Forbidden(f"account {account_id} is not a party of service order {self.service_order_id}")

    def _record(self, now: datetime, role: PartyRole, account: str | None, action: str, node: str,
                to_node: str | None, note: str = "", details: dict[str, Any] | None = None) -> None:
        prev = self.timeline[-1].hash if self.timeline else GENESIS
        entry = TimelineEntry(seq=len(self.timeline) + 1, at=now, actor_role=role, actor_account_id=account,
                              action=action, node=node, to_node=to_node, note=note, details=details or {},
                              prev_hash=prev)
        entry.hash = entry.digest()
        self.timeline.append(entry)

    def _guard_operable(self) -> None:
        if self.status is Status.FROZEN:
            assert self.open_appeal is not None
            raise Frozen(f"service order {self.service_order_id} is frozen by appeal "
                         f"{self.open_appeal.appeal_id} until the platform operator resolves it")
        if self.status is Status.COMPLETED or self.node is None:
            raise DomainError(f"service order {self.service_order_id} is already completed")

    def act(self, account_id: str, action: str, now: datetime, correlation_id: str, *,
            evidence: list[Evidence] | None = None, activation_time: AwareDatetime | None = None,
            note: str = "") -> list[Event]:
        role = self.role_of(account_id)
        self._guard_operable()
        assert self.node is not None
        node = self.template.node(self.node)
        if role is not node.actor:
            raise Forbidden(f"node {node.key} ({node.title_zh}) is the {node.actor.value}'s step, not the "
                            f"{role.value}'s")
        transition = node.actions.get(action)
        if transition is None:
            raise InvalidInput(f"action {action!r} is not possible at node {node.key}; possible: "
                               f"{', '.join(sorted(node.actions))}", field="action")
        evidence = evidence or []
        missing = [k for k in transition.requires_evidence if k not in {e.kind for e in evidence}]
        if missing:
            raise InvalidInput(f"{action} at {node.key} needs evidence of kind: {', '.join(missing)}",
                               field="evidence")
        if transition.records_activation_time and activation_time is not None:
            self.actual_activation_time = activation_time
        self.evidence.extend(evidence)
        self._record(now, role, account_id, action, node.key, transition.to, note,
                     details={"evidence": [e.model_dump() for e in evidence]} if evidence else None)
        self.node = transition.to
        envelope = {"producer": PRODUCER, "correlation_id": correlation_id, "order_id": self.order_id}
        if transition.emits is Emits.MILESTONE:
            return [MilestoneConfirmed(**envelope, payload=MilestoneConfirmedPayload(
                service_order_id=self.service_order_id, order_id=self.order_id, node=node.key,
                next_node=transition.to, actor_role=role, actor_account_id=account_id, parties=self.parties,
                confirmed_at=now))]
        if transition.emits is Emits.ACCEPTANCE:
            self.status, self.completed_at = Status.COMPLETED, now
            return [AcceptanceDone(**envelope, payload=AcceptanceDonePayload(
                service_order_id=self.service_order_id, order_id=self.order_id, accepted_by=role,
                accepted_at=now, actual_activation_time=self.actual_activation_time, parties=self.parties))]
        return []

    def raise_appeal(self, account_id: str, reason: str, demands: str, attachments: list[str], now: datetime,
                     correlation_id: str) -> list[Event]:
        """Buyer or merchant, at any node, any time (dossier §5.1); the flow freezes until resolved."""
        role = self.role_of(account_id)
        self._guard_operable()
        assert self.node is not None
        appeal = Appeal(appeal_id=f"AP-{uuid.uuid4().hex[:12]}", raised_by_role=role,
                        raised_by_account_id=account_id, node=self.node, reason=reason, demands=demands,
                        attachments=attachments, raised_at=now)
        self.open_appeal, self.status = appeal, Status.FROZEN
        self._record(now, role, account_id, "appeal", self.node, self.node, reason,
                     details={"appeal_id": appeal.appeal_id, "demands": demands, "attachments": attachments})
        return [AppealRaised(producer=PRODUCER, correlation_id=correlation_id, order_id=self.order_id,
                             payload=AppealRaisedPayload(
                                 appeal_id=appeal.appeal_id, service_order_id=self.service_order_id,
                                 order_id=self.order_id, raised_by_role=role, raised_by_account_id=account_id,
                                 node=self.node, reason=reason, demands=demands, attachments=attachments,
                                 parties=self.parties, raised_at=now))]


def verify_timeline(entries: list[TimelineEntry]) -> int | None:
    """The seq of the first entry whose chain is broken, or None when the timeline is intact."""
    prev = GENESIS
    for entry in entries:
        if entry.prev_hash != prev or entry.digest() != entry.hash:
            return entry.seq
        prev = entry.hash
    return None
