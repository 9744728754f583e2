"""Deadlines (auto-acceptance, idle, 180 days, appeal SLA) with pause and resume; appeals and their resolution;
refunds decided by the orders service (refund.decided) ending the service order; milestones."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from services.supervision import templates
from services.supervision.rules import AcceptanceRule, Policy
from services.supervision.service_order import Evidence, ServiceOrder, Status
from services.supervision.service_order.records import RefundStatus
from shared.platform.errors import DomainError, Forbidden, InvalidInput, NotFound
from shared.schemas import (
    AcceptanceDone,
    AccountRole,
    AppealOutcome,
    AppealRaised,
    AppealResolved,
    DeadlineCleared,
    DeadlineKind,
    DeadlineScheduled,
    DeliveryContact,
    DeliveryType,
    Event,
    Milestone,
    MilestoneConfirmed,
    NoticeKind,
    NoticeRequested,
    PartyRole,
    RefundDecided,
    RefundDecidedPayload,
    SupervisionOverdue,
)
from tests.factories import order_paid, parties

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
PHONE = "+8613811110001"
POLICY = Policy()
DAY = timedelta(days=1)

DIGEST = "0" * 64  # a stored file's content hash (evidence is always a stored file)


def open_so(delivery_type: DeliveryType = DeliveryType.MANUAL_SERVICE, **payload: Any) -> ServiceOrder:
    event = order_paid(parties(), delivery_type=delivery_type)
    p = event.payload.model_copy(
        update={
            "delivery_contact": DeliveryContact(name="Li", phone=PHONE, address="Shenzhen"),
            "paid_at": T0,
            **payload,
        }
    )
    template = templates.template_for(delivery_type)
    assert template is not None
    so, events = ServiceOrder.from_order_paid(p, template, AcceptanceRule.MERCHANT_CUSTOM, T0, "corr", POLICY)
    assert {e.payload.kind for e in events if isinstance(e, DeadlineScheduled)} == {
        DeadlineKind.LONG_RUNNING,
        DeadlineKind.IDLE,
    }
    return so


def of(events: list[Event], kind: type) -> list[Any]:
    return [e for e in events if isinstance(e, kind)]


def deadline(so: ServiceOrder, kind: DeadlineKind) -> Any:
    [d] = [d for d in so.deadlines if d.kind is kind]
    return d


def shipped_and_signed(phone: str = PHONE) -> tuple[ServiceOrder, list[Event]]:
    so = open_so(DeliveryType.HARDWARE)
    so.act(
        so.parties.merchant_account_id,
        "ship",
        T0,
        "corr",
        evidence=[Evidence(kind="logistics", name="sf.pdf", file_id="EV-logistics", sha256=DIGEST)],
    )
    return so, so.act(
        so.parties.merchant_account_id, "courier_signed", T0 + DAY, "corr", recipient_phone=phone
    )


B = "buyer"


def buyer(so: ServiceOrder) -> str:
    return so.parties.buyer_account_id


def merchant(so: ServiceOrder) -> str:
    return so.parties.merchant_account_id


# --- hardware auto-acceptance ----------------------------------------------------------------------


def test_the_courier_sign_off_starts_a_ten_day_auto_acceptance() -> None:
    so, events = shipped_and_signed()
    [scheduled] = [e for e in of(events, DeadlineScheduled) if e.payload.kind is DeadlineKind.AUTO_ACCEPTANCE]
    assert scheduled.payload.due_at == T0 + DAY + timedelta(days=10)
    assert scheduled.payload.party is PartyRole.BUYER
    assert scheduled.payload.consequence == "the system accepts the delivery"
    auto = deadline(so, DeadlineKind.AUTO_ACCEPTANCE)

    assert so.fire(auto.deadline_id, T0 + 10 * DAY, "corr") == []  # not yet due: nothing happens
    events = so.fire(auto.deadline_id, T0 + 11 * DAY, "corr")

    [done] = of(events, AcceptanceDone)
    assert done.payload.accepted_by is PartyRole.SYSTEM
    assert so.status is Status.COMPLETED
    assert "auto_accept" in [e.action for e in so.timeline]
    assert so.deadlines == []
    assert any(e.payload.reason == "expired" for e in of(events, DeadlineCleared))
    assert so.fire(auto.deadline_id, T0 + 12 * DAY, "corr") == []  # fired twice: nothing more


def test_no_auto_acceptance_when_the_courier_phone_differs() -> None:
    so, _ = shipped_and_signed("+8613900000000")
    assert not [d for d in so.deadlines if d.kind is DeadlineKind.AUTO_ACCEPTANCE]
    assert so.timeline[-1].details["recipient_phone_matches"] is False
    assert "merchant must remind the buyer" in so.timeline[-1].details["auto_acceptance"]


def test_the_buyer_accepting_first_clears_the_auto_acceptance() -> None:
    so, _ = shipped_and_signed()
    events = so.act(buyer(so), "accept", T0 + 2 * DAY, "corr")
    cleared = {(e.payload.kind, e.payload.reason) for e in of(events, DeadlineCleared)}
    assert (DeadlineKind.AUTO_ACCEPTANCE, "acted") in cleared
    assert of(events, AcceptanceDone)[0].payload.accepted_by is PartyRole.BUYER


# --- appeals pause and resume the clocks ---------------------------------------------------------


def test_an_appeal_pauses_the_auto_acceptance_and_resume_restores_the_time_left() -> None:
    so, _ = shipped_and_signed()
    so.rejections = 4  # hardware appeals need a documented trigger (dossier §2.4)
    auto = deadline(so, DeadlineKind.AUTO_ACCEPTANCE)
    raised_at = T0 + 3 * DAY

    events = so.raise_appeal(buyer(so), "goods damaged", "replace", [], raised_at, "corr")

    [paused] = [e for e in of(events, DeadlineCleared) if e.payload.kind is DeadlineKind.AUTO_ACCEPTANCE]
    assert paused.payload.reason == "paused"
    assert paused.payload.remaining_seconds == (8 * DAY).total_seconds()
    [sla] = [e for e in of(events, DeadlineScheduled) if e.payload.kind is DeadlineKind.APPEAL_SLA]
    assert sla.payload.party is PartyRole.OPERATOR
    [raised] = of(events, AppealRaised)
    assert raised.payload.respond_by == sla.payload.due_at
    assert so.fire(auto.deadline_id, T0 + 20 * DAY, "corr") == []  # paused: never fires

    resumed_at = T0 + 5 * DAY
    assert so.open_appeal is not None
    events = so.resolve_appeal(
        "op", so.open_appeal.appeal_id, AppealOutcome.RESUME, resumed_at, "corr", operator=True
    )

    [resolved] = of(events, AppealResolved)
    assert resolved.payload.outcome is AppealOutcome.RESUME
    assert resolved.payload.resumed_node == "accept"
    [again] = [e for e in of(events, DeadlineScheduled) if e.payload.kind is DeadlineKind.AUTO_ACCEPTANCE]
    assert again.payload.due_at == resumed_at + 8 * DAY
    assert so.status is Status.ACTIVE
    assert of(so.fire(auto.deadline_id, resumed_at + 8 * DAY, "corr"), AcceptanceDone)


def test_resuming_at_another_node_cancels_the_paused_clocks() -> None:
    so, _ = shipped_and_signed()
    so.rejections = 4
    so.raise_appeal(buyer(so), "never arrived", "resend", [], T0 + 2 * DAY, "corr")
    assert so.open_appeal is not None
    events = so.resolve_appeal(
        "op", so.open_appeal.appeal_id, AppealOutcome.RESUME, T0 + 3 * DAY, "corr", operator=True, node="ship"
    )
    assert so.node == "ship"
    assert {e.payload.kind for e in of(events, DeadlineCleared) if e.payload.reason == "cancelled"} >= {
        DeadlineKind.AUTO_ACCEPTANCE
    }
    assert [d.kind for d in so.deadlines if d.kind is not DeadlineKind.LONG_RUNNING] == [DeadlineKind.IDLE]


def test_the_operator_can_complete() -> None:
    so = open_so()
    so.raise_appeal(merchant(so), "buyer unreachable", "close", ["proof.pdf"], T0, "corr")
    assert so.open_appeal is not None
    events = so.resolve_appeal(
        "op", so.open_appeal.appeal_id, AppealOutcome.COMPLETE, T0 + DAY, "corr", operator=True
    )
    assert so.status is Status.COMPLETED
    assert so.deadlines == []
    [event] = of(events, AcceptanceDone)
    assert event.payload.accepted_by is PartyRole.OPERATOR
    with pytest.raises(DomainError):
        so.act(buyer(so), "submit", T0 + 2 * DAY, "corr")


def test_a_refund_outcome_leaves_the_refund_to_the_orders_service_and_stops_the_flow() -> None:
    """Dossier §5.3: the operator may decide a refund; orders carries it out (it owns refunds), so supervision
    publishes appeal.resolved(outcome=refund) and no refund.decided, and waits as `refunding`."""
    so, _ = shipped_and_signed()
    so.rejections = 4
    so.raise_appeal(buyer(so), "goods damaged", "refund", [], T0 + 2 * DAY, "corr")
    assert so.open_appeal is not None
    appeal_id = so.open_appeal.appeal_id
    events = so.resolve_appeal(
        "op",
        appeal_id,
        AppealOutcome.REFUND,
        T0 + 3 * DAY,
        "corr",
        operator=True,
        note="merchant unreachable",
    )

    assert of(events, RefundDecided) == []
    [resolved] = of(events, AppealResolved)
    assert (resolved.payload.outcome, resolved.payload.resumed_node) == (AppealOutcome.REFUND, None)
    assert so.status is Status.REFUNDING
    assert so.open_appeal is None
    assert so.appeals[-1].outcome is AppealOutcome.REFUND
    assert so.next_step is None
    # The paused clocks never resume: cancelled now; the appeal SLA was met; the 180 days run until the refund.
    cleared = {(e.payload.kind, e.payload.reason) for e in of(events, DeadlineCleared)}
    assert cleared == {
        (DeadlineKind.APPEAL_SLA, "acted"),
        (DeadlineKind.AUTO_ACCEPTANCE, "cancelled"),
        (DeadlineKind.IDLE, "cancelled"),
    }
    assert [d.kind for d in so.deadlines] == [DeadlineKind.LONG_RUNNING]
    assert so.timeline[-1].action == "appeal_refund"
    with pytest.raises(DomainError, match="being refunded"):
        so.act(buyer(so), "accept", T0 + 4 * DAY, "corr")
    with pytest.raises(DomainError, match="being refunded"):
        so.raise_appeal(buyer(so), "still nothing", "refund", [], T0 + 4 * DAY, "corr")

    events = so.refund_decided(
        decided(so, f"RF-{appeal_id}", True, role=PartyRole.OPERATOR), T0 + 4 * DAY, "corr"
    )

    assert so.status is Status.REFUNDED
    assert so.deadlines == []
    assert [(e.payload.kind, e.payload.reason) for e in of(events, DeadlineCleared)] == [
        (DeadlineKind.LONG_RUNNING, "cancelled")
    ]


def test_only_an_operator_resolves_and_only_the_open_appeal() -> None:
    so = open_so()
    so.raise_appeal(buyer(so), "slow", "hurry", [], T0, "corr")
    assert so.open_appeal is not None
    for account in (buyer(so), merchant(so)):
        with pytest.raises(Forbidden):
            so.resolve_appeal(
                account, so.open_appeal.appeal_id, AppealOutcome.RESUME, T0, "corr", operator=False
            )
    with pytest.raises(NotFound):
        so.resolve_appeal("op", "AP-other", AppealOutcome.RESUME, T0, "corr", operator=True)
    with pytest.raises(InvalidInput):
        so.resolve_appeal(
            "op", so.open_appeal.appeal_id, AppealOutcome.RESUME, T0, "corr", operator=True, node="nowhere"
        )
    assert so.status is Status.FROZEN


def test_an_overdue_appeal_is_escalated() -> None:
    so = open_so()
    so.raise_appeal(buyer(so), "slow", "hurry", [], T0, "corr")  # Monday 16:00 Beijing → Thursday
    sla = deadline(so, DeadlineKind.APPEAL_SLA)
    assert sla.due_at == T0 + 3 * DAY
    events = so.fire(sla.deadline_id, T0 + 3 * DAY, "corr")
    assert so.open_appeal is not None
    assert so.open_appeal.escalated_at == T0 + 3 * DAY
    assert so.timeline[-1].action == "appeal_sla_due"
    assert [e.payload.reason for e in of(events, DeadlineCleared)] == ["expired"]
    assert so.status is Status.FROZEN  # still the operator's to resolve
    assert so.timeline[-1].details["appeal_id"] == so.open_appeal.appeal_id
    # Dossier §5.3: operators (the group, in-site and e-mail by the catalogue) and both parties are told.
    [notice] = of(events, NoticeRequested)
    p = notice.payload
    assert (p.kind, p.notice_id) == (
        NoticeKind.APPEAL_ESCALATED,
        f"appeal:{so.open_appeal.appeal_id}:escalated",
    )
    assert [(r.role, r.account_id) for r in p.recipients] == [
        (AccountRole.OPERATOR, None),
        (AccountRole.BUYER, buyer(so)),
        (AccountRole.MERCHANT, merchant(so)),
    ]
    assert p.params["appeal_id"] == so.open_appeal.appeal_id
    assert p.params["due_at"] == (T0 + 3 * DAY).isoformat()
    assert p.params["raised_by"] == "buyer"
    # Once: the deadline is gone, so a second firing (a replayed timer row) escalates nothing.
    assert so.fire(sla.deadline_id, T0 + 4 * DAY, "corr") == []
    assert so.open_appeal.escalated_at == T0 + 3 * DAY


def test_an_appeal_resolved_in_time_is_never_escalated() -> None:
    so = open_so()
    so.raise_appeal(buyer(so), "slow", "hurry", [], T0, "corr")
    sla = deadline(so, DeadlineKind.APPEAL_SLA)
    assert so.open_appeal is not None
    so.resolve_appeal("op", so.open_appeal.appeal_id, AppealOutcome.RESUME, T0 + DAY, "corr", operator=True)
    assert so.fire(sla.deadline_id, T0 + 3 * DAY, "corr") == []
    assert so.appeals[0].escalated_at is None


def test_a_merchant_appeal_while_the_buyer_has_not_accepted_needs_the_delivery_proof() -> None:
    so = open_so()
    so.act(buyer(so), "submit", T0, "corr")
    so.act(merchant(so), "confirm", T0, "corr")
    so.act(
        merchant(so),
        "deliver",
        T0,
        "corr",
        evidence=[
            Evidence(kind="sow", name="s", file_id="EV-sow", sha256=DIGEST),
            Evidence(kind="acceptance_document", name="a", file_id="EV-acceptance_document", sha256=DIGEST),
        ],
    )
    with pytest.raises(InvalidInput) as refused:
        so.raise_appeal(merchant(so), "buyer never accepts", "complete", [], T0, "corr")
    assert refused.value.field == "attachments"
    # Free text naming a file is no proof: only a stored file of this service order (its id and digest) is.
    with pytest.raises(InvalidInput) as named_only:
        so.raise_appeal(merchant(so), "buyer never accepts", "complete", ["delivery-proof.pdf"], T0, "corr")
    assert named_only.value.field == "attachments"
    assert so.status is Status.ACTIVE
    proof = Evidence(kind="delivery_proof", name="proof.pdf", file_id="EV-1", sha256="a" * 64)
    so.raise_appeal(merchant(so), "buyer never accepts", "complete", ["EV-1"], T0, "corr", proofs=[proof])
    assert so.status is Status.FROZEN
    assert so.timeline[-1].details["evidence"] == [proof.model_dump(mode="json")]


def test_hardware_appeals_need_idle_over_five_days_or_more_than_three_rejections() -> None:
    so = open_so(DeliveryType.HARDWARE)  # the merchant must ship
    with pytest.raises(DomainError, match="idle for more than 5 days"):
        so.raise_appeal(buyer(so), "nothing shipped", "refund", [], T0 + DAY, "corr")
    idle = deadline(so, DeadlineKind.IDLE)
    assert idle.party is PartyRole.MERCHANT
    assert idle.due_at == T0 + 5 * DAY
    so.fire(idle.deadline_id, T0 + 5 * DAY, "corr")
    assert so.idle_expired
    with pytest.raises(DomainError):  # the idle party itself cannot use its own silence
        so.raise_appeal(merchant(so), "x", "y", [], T0 + 6 * DAY, "corr")
    so.raise_appeal(buyer(so), "nothing shipped", "refund", [], T0 + 6 * DAY, "corr")
    assert so.status is Status.FROZEN


def test_hardware_appeals_open_after_the_fourth_rejection() -> None:
    so = open_so(DeliveryType.HARDWARE)
    for i in range(4):
        with pytest.raises(DomainError):
            so.raise_appeal(merchant(so), "keeps rejecting", "complete", ["proof"], T0, "corr")
        so.act(
            merchant(so),
            "ship",
            T0,
            "corr",
            evidence=[Evidence(kind="logistics", name=f"l{i}", file_id="EV-logistics", sha256=DIGEST)],
        )
        so.act(buyer(so), "reject", T0, "corr")
    assert so.rejections == 4
    so.raise_appeal(merchant(so), "keeps rejecting", "complete", ["proof"], T0, "corr")
    assert so.status is Status.FROZEN


def test_the_180_day_reminder_is_recorded_and_not_paused_by_appeals() -> None:
    so = open_so()
    long_running = deadline(so, DeadlineKind.LONG_RUNNING)
    assert long_running.due_at == T0 + 180 * DAY
    so.raise_appeal(buyer(so), "slow", "hurry", [], T0 + 179 * DAY, "corr")
    assert deadline(so, DeadlineKind.LONG_RUNNING).running
    events = so.fire(long_running.deadline_id, T0 + 180 * DAY, "corr")
    assert so.timeline[-1].action == "long_running_due"
    # Dossier §1.5: the merchant and the buyer's account manager; the order names none, so the operators' group.
    [notice] = of(events, NoticeRequested)
    assert notice.payload.kind is NoticeKind.LONG_RUNNING_REMINDER
    assert notice.payload.notice_id == f"service_order:{so.service_order_id}:long_running"
    assert [(r.role, r.account_id) for r in notice.payload.recipients] == [
        (AccountRole.MERCHANT, merchant(so)),
        (AccountRole.OPERATOR, None),
    ]
    assert notice.payload.params["order_id"] == so.order_id
    assert so.fire(long_running.deadline_id, T0 + 181 * DAY, "corr") == []  # once


# --- refunds, decided by the orders service (refund.decided) -----------------------------------------


def decided(
    so: ServiceOrder,
    refund_id: str,
    approved: bool,
    *,
    role: PartyRole = PartyRole.MERCHANT,
    amount: str = "120.50",
    opinion: str = "agreed by phone",
) -> RefundDecidedPayload:
    return RefundDecidedPayload(
        refund_id=refund_id,
        order_id=so.order_id,
        approved=approved,
        amount=Decimal(amount),
        reason="changed plans",
        opinion=opinion,
        decided_by_role=role,
        decided_by_account_id=merchant(so) if role is PartyRole.MERCHANT else "op",
        parties=so.parties,
        decided_at=T0 + DAY,
    )


def test_an_approved_refund_ends_the_service_order_as_refunded() -> None:
    so = open_so(amount=Decimal("300.00"))
    so.act(buyer(so), "submit", T0, "corr")
    running = {d.deadline_id for d in so.deadlines}

    events = so.refund_decided(decided(so, "RF-1", True), T0 + 2 * DAY, "corr")

    assert so.status is Status.REFUNDED
    assert so.node is None
    assert so.next_step is None
    assert so.deadlines == []
    assert {e.payload.deadline_id for e in of(events, DeadlineCleared)} == running
    assert {e.payload.reason for e in of(events, DeadlineCleared)} == {"cancelled"}
    assert [type(e) for e in events] == [DeadlineCleared] * len(running)  # no refund.decided of its own
    [refund] = so.refunds
    assert (refund.refund_id, refund.amount, refund.status, refund.opinion) == (
        "RF-1",
        Decimal("120.50"),
        RefundStatus.APPROVED,
        "agreed by phone",
    )
    entry = so.timeline[-1]
    assert (entry.action, entry.actor_role, entry.actor_account_id, entry.node, entry.to_node) == (
        "refund_approved",
        PartyRole.MERCHANT,
        merchant(so),
        "confirm_request",
        None,
    )
    assert entry.details["refund_id"] == "RF-1"
    with pytest.raises(DomainError, match="refunded"):
        so.act(merchant(so), "confirm", T0 + 3 * DAY, "corr")


def test_a_rejected_refund_leaves_the_flow_running() -> None:
    so = open_so()
    before = (so.status, so.node, [d.model_copy() for d in so.deadlines])

    assert so.refund_decided(decided(so, "RF-1", False, opinion="work is half done"), T0, "corr") == []

    assert (so.status, so.node, so.deadlines) == before
    assert so.refunds[0].status is RefundStatus.REJECTED
    assert (so.timeline[-1].action, so.timeline[-1].note) == ("refund_rejected", "work is half done")
    so.act(buyer(so), "submit", T0, "corr")


def test_a_decision_already_on_record_changes_nothing() -> None:
    so = open_so()
    so.refund_decided(decided(so, "RF-1", False), T0, "corr")
    so.refund_decided(decided(so, "RF-2", True), T0, "corr")
    recorded = so.model_dump()

    assert so.refund_decided(decided(so, "RF-1", False), T0 + DAY, "corr") == []
    assert so.refund_decided(decided(so, "RF-2", True), T0 + DAY, "corr") == []
    assert so.refund_decided(decided(so, "RF-3", True), T0 + DAY, "corr") == []  # refunded already
    assert so.model_dump() == recorded


def test_a_refund_approved_while_an_appeal_is_open_closes_the_appeal() -> None:
    so = open_so()
    so.raise_appeal(buyer(so), "slow", "refund", [], T0, "corr")
    events = so.refund_decided(decided(so, "RF-1", True, role=PartyRole.SYSTEM), T0 + DAY, "corr")
    assert so.status is Status.REFUNDED
    assert so.open_appeal is None
    assert so.appeals[-1].outcome is AppealOutcome.REFUND
    assert so.deadlines == []
    assert DeadlineKind.APPEAL_SLA in {e.payload.kind for e in of(events, DeadlineCleared)}


# --- milestones -----------------------------------------------------------------------------------


def test_each_accepted_milestone_is_confirmed_and_the_last_completes_the_order() -> None:
    stages = [
        Milestone(milestone_id=f"m{i}", title=f"stage {i}", proportion=Decimal(p))
        for i, p in enumerate(("0.2", "0.3", "0.5"), start=1)
    ]
    so = open_so(milestones=stages)
    so.act(buyer(so), "submit", T0, "corr")
    so.act(merchant(so), "confirm", T0, "corr")
    delivered = [
        Evidence(kind="sow", name="s", file_id="EV-sow", sha256=DIGEST),
        Evidence(kind="acceptance_document", name="a", file_id="EV-acceptance_document", sha256=DIGEST),
    ]
    confirmed: list[str | None] = []
    for i in range(3):
        so.act(merchant(so), "deliver", T0, "corr", evidence=delivered)
        events = so.act(buyer(so), "accept", T0 + i * DAY, "corr")
        confirmed += [e.payload.milestone_id for e in of(events, MilestoneConfirmed)]
        assert bool(of(events, AcceptanceDone)) is (i == 2)
        assert so.node == (None if i == 2 else "deliver")
    assert confirmed == ["m1", "m2", "m3"]
    assert so.status is Status.COMPLETED
    assert all(m.accepted_at is not None for m in so.milestones)


# --- the old 365-day rule, for legacy orders (dossier §1.5) ---------------------------------------------------


def test_a_legacy_order_not_accepted_in_365_days_is_unsubscribed_by_the_system() -> None:
    legacy = Policy(legacy_paid_before=T0 + DAY)
    event = order_paid(parties(), delivery_type=DeliveryType.MANUAL_SERVICE)
    template = templates.template_for(DeliveryType.MANUAL_SERVICE)
    assert template is not None
    p = event.payload.model_copy(update={"paid_at": T0})
    so, opened = ServiceOrder.from_order_paid(p, template, AcceptanceRule.MERCHANT_CUSTOM, T0, "corr", legacy)
    overdue = deadline(so, DeadlineKind.LEGACY_OVERDUE)
    assert overdue.due_at == T0 + 365 * DAY
    assert DeadlineKind.LEGACY_OVERDUE in {e.payload.kind for e in of(opened, DeadlineScheduled)}
    so.raise_appeal(buyer(so), "slow", "hurry", [], T0 + 300 * DAY, "corr")  # not paused by an appeal
    assert deadline(so, DeadlineKind.LEGACY_OVERDUE).running

    events = so.fire(overdue.deadline_id, T0 + 365 * DAY, "corr", legacy)
    assert so.status is Status.REFUNDING  # the orders service refunds; its refund.decided ends it
    assert so.deadlines == []
    assert so.open_appeal is None
    assert so.timeline[-1].action == "auto_unsubscribe"
    [asked] = of(events, SupervisionOverdue)
    assert (asked.payload.order_id, asked.payload.overdue_at) == (so.order_id, T0 + 365 * DAY)
    [notice] = of(events, NoticeRequested)
    assert notice.payload.kind is NoticeKind.SUPERVISION_AUTO_UNSUBSCRIBED
    assert [(r.role, r.account_id) for r in notice.payload.recipients] == [
        (AccountRole.MERCHANT, merchant(so))
    ]
    assert so.fire(overdue.deadline_id, T0 + 366 * DAY, "corr", legacy) == []  # once

    so.refund_decided(decided(so, f"RF-{so.order_id}", True, role=PartyRole.OPERATOR), T0 + 366 * DAY, "c")
    assert so.status is Status.REFUNDED


def test_orders_under_the_current_rule_are_never_unsubscribed_by_the_system() -> None:
    so = open_so()  # the default policy names no rule-change date: no order is legacy
    assert DeadlineKind.LEGACY_OVERDUE not in {d.kind for d in so.deadlines}
    assert not Policy(legacy_paid_before=T0).legacy(T0)  # paid at the change: the current rule
