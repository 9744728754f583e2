"""The flow: a node's step by its actor, where it leads, and what that announces (dossier §2, §2.7). The flow
itself is data (flows.py, templates.py); these are the rules every flow follows."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from services.supervision.flows import Emits, Node, Transition
from services.supervision.rules import AcceptanceElements, Expected, Policy, element_problems, same_phone
from services.supervision.service_order import milestones
from services.supervision.service_order.records import Evidence
from services.supervision.service_order.state import ServiceOrderState, Status
from shared.platform.errors import Forbidden, InvalidInput
from shared.schemas import (
    AcceptanceDone,
    AcceptanceDonePayload,
    DeadlineKind,
    Event,
    MilestoneConfirmed,
    MilestoneConfirmedPayload,
    PartyRole,
)


@dataclass(frozen=True)
class Step:
    """What the actor sends with a step."""

    evidence: list[Evidence] = field(default_factory=list)
    activation_time: datetime | None = None
    note: str = ""
    elements: AcceptanceElements | None = None
    recipient_phone: str | None = None


@dataclass(frozen=True)
class Actor:
    role: PartyRole
    account: str | None


def act(
    so: ServiceOrderState,
    account_id: str,
    action: str,
    step: Step,
    now: datetime,
    corr: str,
    *,
    operator: bool,
    policy: Policy,
) -> list[Event]:
    """The current node's step, by the node's actor (or the transition's own, e.g. the merchant reporting the
    courier's sign-off), with the evidence the transition requires (dossier §2.0)."""
    role = so.role_of(account_id, operator)
    so.guard_operable()
    assert so.node is not None
    node = so.template.node(so.node)
    transition = _allowed(node, action, role)
    for n, item in enumerate(step.evidence):
        if item.file_id is None or item.sha256 is None:
            # Evidence is a stored file: the timeline entry names it by id and content hash, so an export
            # proves what was given (verify.py); a name alone proves nothing.
            raise InvalidInput(
                f"evidence item {n} ({item.kind}) is not a stored file of this service order",
                field=f"evidence[{n}].file_id",
            )
    missing = [k for k in transition.requires_evidence if k not in {e.kind for e in step.evidence}]
    if missing:
        raise InvalidInput(
            f"{action} at {node.key} needs evidence of kind: {', '.join(missing)}", field="evidence"
        )
    details: dict[str, Any] = {"evidence": [e.model_dump() for e in step.evidence]} if step.evidence else {}
    if transition.delivers and so.template.platform_review:
        # Dossier §3.2/§3.3: the acceptance document's key elements must match the order.
        expected = Expected(so.order_id, so.buyer_company, so.product.name, so.product.spec_name)
        problems = element_problems(step.elements, expected)
        if problems:
            raise InvalidInput("; ".join(problems), field="acceptance_elements")
        details["acceptance_elements"] = step.elements.model_dump() if step.elements else None
    events: list[Event] = []
    if transition.courier_sign_off:
        events += courier_signed(so, step.recipient_phone, now, corr, policy, details)
    if transition.activation_is_now:
        so.actual_activation_time = step.activation_time or now  # License 2.0: the code's activation (§10)
    elif transition.records_activation_time and step.activation_time is not None:
        so.actual_activation_time = step.activation_time
    if transition.claims_code:
        so.code_claimed_at = now
    so.rejections += transition.rejection
    so.evidence.extend(step.evidence)
    so.log.record(now, role, account_id, action, node.key, transition.to, step.note, details=details)
    return events + follow(so, transition, node.key, Actor(role, account_id), now, corr, policy)


def _allowed(node: Node, action: str, role: PartyRole) -> Transition:
    transition = node.actions.get(action)
    actor = transition.actor if transition is not None and transition.actor else node.actor
    if role is not actor:
        raise Forbidden(
            f"node {node.key} ({node.title_zh}) is the {actor.value}'s step, not the {role.value}'s",
            rule="node_actor_only",
        )
    if transition is None:
        possible = ", ".join(sorted(node.actions))
        raise InvalidInput(
            f"action {action!r} is not possible at node {node.key}; possible: {possible}", field="action"
        )
    return transition


def follow(
    so: ServiceOrderState,
    transition: Transition,
    from_node: str,
    by: Actor,
    now: datetime,
    corr: str,
    policy: Policy,
) -> list[Event]:
    """Leave `from_node` along `transition`: its deadlines end, the milestone or acceptance is announced, and
    the flow enters the next node or completes."""
    if transition.to == from_node:
        return []
    events = so.clocks.clear(lambda d: d.node == from_node, "acted", now, corr)
    if transition.emits is Emits.ACCEPTANCE and so.milestones:
        accepted = milestones.accept_next(so.milestones, now)
        if not milestones.all_accepted(so.milestones):  # more to come: back to delivery (dossier §4.2)
            assert so.template.delivery_node is not None
            back = so.template.delivery_node
            confirmed = _confirmed(so, from_node, back, by, now, corr, accepted.milestone_id)
            return [*events, confirmed, *enter(so, back, now, corr, policy)]
        events.append(_confirmed(so, from_node, None, by, now, corr, accepted.milestone_id))
    if transition.emits is Emits.MILESTONE:
        events.append(_confirmed(so, from_node, transition.to, by, now, corr, None))
    if transition.to is None:
        return events + complete(so, PartyRole.SYSTEM if transition.auto_accepts else by.role, now, corr)
    return events + enter(so, transition.to, now, corr, policy)


def enter(so: ServiceOrderState, node: str, now: datetime, corr: str, policy: Policy) -> list[Event]:
    so.node, so.node_entered_at, so.idle_expired = node, now, False
    return start_idle(so, now, corr, policy)


def start_idle(so: ServiceOrderState, now: datetime, corr: str, policy: Policy) -> list[Event]:
    """The idle deadline of the node's actor: past it the other party may appeal (dossier §5.1, 5 days)."""
    assert so.node is not None
    actor = so.template.node(so.node).actor
    if actor not in (PartyRole.BUYER, PartyRole.MERCHANT):
        return []
    return [so.clocks.schedule(DeadlineKind.IDLE, actor, now + policy.idle, corr)]


def courier_signed(
    so: ServiceOrderState,
    phone: str | None,
    now: datetime,
    corr: str,
    policy: Policy,
    details: dict[str, Any],
) -> list[Event]:
    """Dossier §2.4: 10 days after the courier's sign-off the system accepts, unless the courier's recipient
    phone differs from the buyer's delivery phone (logistics cannot be tracked; the merchant reminds)."""
    if not phone:
        raise InvalidInput(
            "the courier's recipient phone is required with the sign-off", field="recipient_phone"
        )
    events = so.clocks.clear(lambda d: d.kind is DeadlineKind.AUTO_ACCEPTANCE, "cancelled", now, corr)
    if so.contact_erased_at is not None:
        details["recipient_phone_matches"] = False
        details["auto_acceptance"] = (
            "none: the buyer had the delivery contact erased, so the courier's recipient phone cannot be "
            "matched; the merchant must remind the buyer to accept (dossier §2.4)"
        )
        return events
    details["recipient_phone_matches"] = matches = same_phone(phone, so.delivery_phone)
    if not matches:
        details["auto_acceptance"] = (
            "none: the courier's recipient phone differs from the buyer's, so the merchant must remind the "
            "buyer to accept (dossier §2.4)"
        )
        return events
    due = now + policy.hardware_auto_accept
    return [*events, so.clocks.schedule(DeadlineKind.AUTO_ACCEPTANCE, PartyRole.BUYER, due, corr)]


def complete(so: ServiceOrderState, role: PartyRole, now: datetime, corr: str) -> list[Event]:
    """Accepted: every clock stops and the order's validity starts (acceptance.done)."""
    events = so.clocks.clear_all("acted", now, corr)
    so.node, so.status, so.completed_at = None, Status.COMPLETED, now
    # Dossier §2.0/§10: validity starts at the actual activation time, else at acceptance.
    so.validity_starts_at = so.actual_activation_time or now
    done = AcceptanceDonePayload(
        **so.about(), accepted_by=role, accepted_at=now, actual_activation_time=so.actual_activation_time
    )
    return [*events, AcceptanceDone(**so.envelope(corr), payload=done)]


def _confirmed(
    so: ServiceOrderState,
    node: str,
    next_node: str | None,
    by: Actor,
    now: datetime,
    corr: str,
    milestone_id: str | None,
) -> MilestoneConfirmed:
    confirmed = MilestoneConfirmedPayload(
        **so.about(),
        node=node,
        next_node=next_node,
        actor_role=by.role,
        actor_account_id=by.account,
        milestone_id=milestone_id,
        confirmed_at=now,
    )
    return MilestoneConfirmed(**so.envelope(corr), payload=confirmed)
