"""Appeals (申诉, dossier §5): raised by the buyer or the merchant, they freeze the flow and pause its clocks
until a platform operator resolves them."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from services.supervision.flows import AppealPolicy
from services.supervision.rules import Policy
from services.supervision.service_order import flow
from services.supervision.service_order.records import Appeal, Evidence
from services.supervision.service_order.state import ServiceOrderState, Status
from shared.platform.errors import DomainError, Forbidden, InvalidInput, NotFound
from shared.schemas import (
    AppealOutcome,
    AppealRaised,
    AppealRaisedPayload,
    AppealResolved,
    AppealResolvedPayload,
    DeadlineKind,
    Event,
    PartyRole,
)

RESOLUTION = {
    "assignee_account_id",
    "escalated_at",
    "outcome",
    "resolved_at",
    "resolved_by_account_id",
}  # what a raised appeal lacks


def raise_appeal(
    so: ServiceOrderState,
    account_id: str,
    reason: str,
    demands: str,
    attachments: list[str],
    now: datetime,
    corr: str,
    policy: Policy,
    proofs: list[Evidence] | None = None,
) -> list[Event]:
    """Buyer or merchant, at any node, any time (dossier §5.1); the flow freezes until the operator resolves
    it, every running clock pauses, and the operator's 3-working-day SLA starts (§5.3). `proofs`: the
    attachments that are evidence files stored on this service order (their id and content digest)."""
    proofs = [p for p in proofs or [] if p.file_id and p.sha256]
    role = so.role_of(account_id)
    so.guard_operable()
    assert so.node is not None
    node = so.template.node(so.node)
    if so.template.appeal_policy is AppealPolicy.THRESHOLDS:
        # Dossier §2.4 (hardware): an appeal once the other side stalled for more than 5 days, or after more
        # than 3 rejections.
        other_stalled = so.idle_expired and node.actor is not role
        if not other_stalled and so.rejections <= policy.max_rejections:
            raise DomainError(
                f"an appeal on this {so.template.delivery_type.value} order is possible once the other party "
                f"has been idle for more than {policy.idle.days} days or after more than "
                f"{policy.max_rejections} rejections ({so.rejections} so far; dossier §2.4)"
            )
    if role is PartyRole.MERCHANT and node.actor is PartyRole.BUYER and node.key == "accept" and not proofs:
        # Dossier §5.1/§5.2 (merchant, step 5): appealing because the user never confirms acceptance, the
        # merchant uploads the delivery proof ("上传附件"). The appeal's reason is free text (§5.2 names no
        # reason codes), so the case is known by where the flow stands: the buyer's acceptance node. The
        # proof is a file already uploaded to this service order, named by its file id: a name alone proves
        # nothing.
        raise InvalidInput(
            "a merchant's appeal while the buyer has not accepted must attach the delivery proof: the file "
            "id (EV-…) of an evidence file uploaded to this service order (POST .../files), not free text",
            field="attachments",
        )
    respond_by = policy.appeal_due(now)
    appeal = Appeal(
        appeal_id=f"AP-{uuid.uuid4().hex[:12]}",
        raised_by_role=role,
        raised_by_account_id=account_id,
        node=so.node,
        reason=reason,
        demands=demands,
        attachments=attachments,
        raised_at=now,
        respond_by=respond_by,
    )
    so.open_appeal, so.status = appeal, Status.FROZEN
    details: dict[str, Any] = {
        "appeal_id": appeal.appeal_id,
        "demands": demands,
        "attachments": attachments,
        "respond_by": respond_by.isoformat(),
    }
    if proofs:  # the stored files it names, with their digests (verify.py finds each in the export)
        details["evidence"] = [p.model_dump(mode="json") for p in proofs]
    so.log.record(now, role, account_id, "appeal", so.node, so.node, reason, details=details)
    raised = AppealRaisedPayload(**so.about(), **appeal.model_dump(exclude=RESOLUTION))
    paused = so.clocks.pause(now, corr)
    sla = so.clocks.schedule(DeadlineKind.APPEAL_SLA, PartyRole.OPERATOR, respond_by, corr, node=None)
    return [AppealRaised(**so.envelope(corr), payload=raised), *paused, sla]


def resolve_appeal(
    so: ServiceOrderState,
    account_id: str,
    appeal_id: str,
    outcome: AppealOutcome,
    now: datetime,
    corr: str,
    *,
    operator: bool,
    node: str | None,
    note: str,
    policy: Policy,
) -> list[Event]:
    """The platform operator's decision (dossier §5.3, §2.7): back to a node (by default the one the appeal
    froze, its paused clocks resuming with the time they had left), completed, or refunded in full.

    A refund is the orders service's to carry out (it owns refunds): appeal.resolved says so, the service
    order waits as `refunding`, and the refund.decided that orders publishes ends it as refunded
    (refunds.py)."""
    if not operator:
        raise Forbidden(
            "only a platform operator resolves appeals (dossier §5.3)", rule="operators_resolve_appeals"
        )
    appeal = so.open_appeal
    if appeal is None or appeal.appeal_id != appeal_id:
        raise NotFound(f"appeal {appeal_id} is not open on service order {so.service_order_id}")
    target = node or appeal.node
    resumes = outcome is AppealOutcome.RESUME
    if resumes and target not in so.template.nodes:
        raise InvalidInput(
            f"node {target!r} is not in this flow; nodes: {', '.join(so.template.nodes)}", field="node"
        )
    appeal.outcome, appeal.resolved_at, appeal.resolved_by_account_id = outcome, now, account_id
    so.appeals.append(appeal)
    so.open_appeal, so.status = None, Status.ACTIVE
    so.log.record(
        now,
        PartyRole.OPERATOR,
        account_id,
        f"appeal_{outcome.value}",
        appeal.node,
        target if resumes else None,
        note,
        details={"appeal_id": appeal_id, "outcome": outcome.value},
    )
    events = so.clocks.clear(lambda d: d.kind is DeadlineKind.APPEAL_SLA, "acted", now, corr)
    resolved = AppealResolvedPayload(
        **so.about(),
        appeal_id=appeal_id,
        outcome=outcome,
        resumed_node=target if resumes else None,
        resolved_by_account_id=account_id,
        note=note,
        resolved_at=now,
    )
    events.append(AppealResolved(**so.envelope(corr), payload=resolved))
    if outcome is AppealOutcome.COMPLETE:
        return events + flow.complete(so, PartyRole.OPERATOR, now, corr)
    if outcome is AppealOutcome.REFUND:
        # The flow never goes on: its paused clocks are cancelled; the 180-day one runs until the refund ends
        # it.
        so.status = Status.REFUNDING
        return events + so.clocks.clear(lambda d: d.paused_remaining is not None, "cancelled", now, corr)
    if target == appeal.node:
        return events + so.clocks.resume(now, corr)
    events += so.clocks.clear(lambda d: d.paused_remaining is not None, "cancelled", now, corr)
    return events + flow.enter(so, target, now, corr, policy)


def assign_appeal(
    so: ServiceOrderState, account_id: str, appeal_id: str, assignee: str, now: datetime, *, operator: bool
) -> None:
    """An operator takes the open appeal, or hands it to another operator (the operators' queue, dossier
    §5.3: the platform's operations manager handles it); a reassignment is on the timeline like the first."""
    if not operator:
        raise Forbidden("only platform operators assign appeals (dossier §5.3)", rule="operators_only")
    appeal = so.open_appeal
    if appeal is None or appeal.appeal_id != appeal_id:
        raise NotFound(f"appeal {appeal_id} is not open on service order {so.service_order_id}")
    previous, appeal.assignee_account_id = appeal.assignee_account_id, assignee
    details = {"appeal_id": appeal_id, "assignee": assignee, "previous_assignee": previous}
    so.log.record(
        now, PartyRole.OPERATOR, account_id, "appeal_assigned", appeal.node, so.node, details=details
    )
