"""The service order (服务监管单): where its flow stands, who may act, what each step leaves on record, which
deadlines run, and the appeals and refunds on it. Pure: every method returns the events it caused."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from pydantic import AwareDatetime, Field, computed_field

from services.supervision.flows import Emits, FlowTemplate, Transition
from services.supervision.ledger import Ledger
from services.supervision.records import (
    Appeal,
    Evidence,
    MilestoneState,
    Refund,
    TimelineEntry,
    verify_timeline,
)
from services.supervision.rules import (
    AcceptanceElements,
    AcceptanceRule,
    Expected,
    Policy,
    element_problems,
    same_phone,
)
from shared.platform.errors import DomainError, Forbidden, InvalidInput
from shared.schemas import (
    AcceptanceDone,
    AcceptanceDonePayload,
    AppealOutcome,
    DeadlineKind,
    Event,
    MilestoneConfirmed,
    MilestoneConfirmedPayload,
    Money,
    OrderPaidPayload,
    Parties,
    PartyRole,
    ProductSnapshot,
    RefundDecided,
    RefundDecidedPayload,
)

__all__ = ["Evidence", "Frozen", "ServiceOrder", "Status", "TimelineEntry", "masked_phone", "verify_timeline"]


class Status(StrEnum):
    ACTIVE = "active"
    FROZEN = "frozen"  # an appeal is open: every transition is refused (dossier §5.3)
    COMPLETED = "completed"
    REFUNDED = "refunded"  # a negotiated refund or an appeal's refund outcome (dossier §1.4, §2.7)


def masked_phone(phone: str) -> str:
    """`+8613811110001` -> `***01`: enough for a person to recognise, too little to call."""
    digits = "".join(ch for ch in phone if ch.isdigit())
    return f"***{digits[-2:]}"


class Frozen(DomainError):
    code = "frozen_by_appeal"


class ServiceOrder(Ledger):
    product: ProductSnapshot
    template: FlowTemplate
    status: Status = Status.ACTIVE
    acceptance_rule: AcceptanceRule = AcceptanceRule.MERCHANT_CUSTOM
    amount: Money = Decimal(0)
    currency: str = "CNY"
    buyer_company: str | None = None
    delivery_phone: str | None = None  # of the hardware delivery contact; masked once the buyer erases it
    contact_erased_at: AwareDatetime | None = None
    open_appeal: Appeal | None = None
    appeals: list[Appeal] = Field(default_factory=list)
    refunds: list[Refund] = Field(default_factory=list)
    milestones: list[MilestoneState] = Field(default_factory=list)
    evidence: list[Evidence] = Field(default_factory=list)
    rejections: int = 0
    idle_expired: bool = False  # the current node's actor let the idle deadline pass
    node_entered_at: AwareDatetime | None = None
    actual_activation_time: AwareDatetime | None = None
    code_claimed_at: AwareDatetime | None = None
    created_at: AwareDatetime
    completed_at: AwareDatetime | None = None
    validity_starts_at: AwareDatetime | None = None
    version: int = 0

    @staticmethod
    def id_for(order_id: str) -> str:
        """One service order per purchase order: a deterministic id makes creation naturally idempotent."""
        return f"SO-{order_id}"

    @classmethod
    def open(cls, order_id: str, parties: Parties, product: ProductSnapshot, template: FlowTemplate,
             now: datetime, **extra: Any) -> ServiceOrder:
        so = cls(service_order_id=cls.id_for(order_id), order_id=order_id, parties=parties, product=product,
                 template=template, node=template.start, created_at=now, node_entered_at=now, **extra)
        so._record(now, PartyRole.SYSTEM, None, "open", template.start, template.start,
                   details={"template": template.template_id, "template_version": template.version})
        return so

    @classmethod
    def from_order_paid(cls, p: OrderPaidPayload, template: FlowTemplate, rule: AcceptanceRule,
                        now: datetime, correlation_id: str, policy: Policy) -> tuple[ServiceOrder, list[Event]]:
        """Open the service order and start its clocks: the first node's idle deadline and the 180-day one."""
        if rule.platform_review:
            template = template.with_platform_review()
        so = cls.open(p.order_id, p.parties, p.product, template, now, acceptance_rule=rule, amount=p.amount,
                      currency=p.currency, buyer_company=p.buyer_company,
                      delivery_phone=p.delivery_contact.phone if p.delivery_contact else None,
                      milestones=[MilestoneState(milestone_id=m.milestone_id, title=m.title,
                                                 proportion=m.proportion) for m in p.milestones])
        events = [so._schedule(DeadlineKind.LONG_RUNNING, PartyRole.MERCHANT, p.paid_at + policy.long_running,
                               correlation_id, node=None)]
        return so, events + so._start_idle(now, correlation_id, policy)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def next_step(self) -> dict[str, Any] | None:
        """What happens next: whose step it is and what they can do (the deadlines say until when)."""
        if self.node is None or self.status is Status.FROZEN:
            return None
        node = self.template.node(self.node)
        return {"node": node.key, "title": node.title, "title_zh": node.title_zh, "actor": node.actor.value,
                "actions": {name: (t.actor or node.actor).value for name, t in node.actions.items()}}

    # --- who is asking ------------------------------------------------------------------------------

    def role_of(self, account_id: str, operator: bool = False) -> PartyRole:
        """The caller's part in this service order. `operator`: the caller is a platform operator (its verified
        token says so) and the step admits operators; operators never stand in for the buyer or the merchant."""
        if account_id == self.parties.buyer_account_id:
            return PartyRole.BUYER
        if account_id == self.parties.merchant_account_id:
            return PartyRole.MERCHANT
        if operator:
            return PartyRole.OPERATOR
        raise Forbidden(f"account {account_id} is not a party of service order {self.service_order_id}",
                        rule="parties_only")

    # --- the flow -----------------------------------------------------------------------------------

    def act(self, account_id: str, action: str, now: datetime, correlation_id: str, *,
            evidence: list[Evidence] | None = None, activation_time: AwareDatetime | None = None,
            note: str = "", elements: AcceptanceElements | None = None, recipient_phone: str | None = None,
            operator: bool = False, policy: Policy | None = None) -> list[Event]:
        policy = policy or Policy()
        role = self.role_of(account_id, operator)
        self._guard_operable()
        assert self.node is not None
        node = self.template.node(self.node)
        transition = node.actions.get(action)
        actor = transition.actor if transition is not None and transition.actor else node.actor
        if role is not actor:
            raise Forbidden(f"node {node.key} ({node.title_zh}) is the {actor.value}'s step, not the {role.value}'s",
                            rule="node_actor_only")
        if transition is None:
            raise InvalidInput(f"action {action!r} is not possible at node {node.key}; possible: "
                               f"{', '.join(sorted(node.actions))}", field="action")
        evidence = evidence or []
        missing = [k for k in transition.requires_evidence if k not in {e.kind for e in evidence}]
        if missing:
            raise InvalidInput(f"{action} at {node.key} needs evidence of kind: {', '.join(missing)}",
                               field="evidence")
        details: dict[str, Any] = {"evidence": [e.model_dump() for e in evidence]} if evidence else {}
        if transition.delivers and self.template.platform_review:
            problems = element_problems(elements, Expected(self.order_id, self.buyer_company, self.product.name,
                                                           self.product.spec_name))
            if problems:
                raise InvalidInput("; ".join(problems), field="acceptance_elements")
            details["acceptance_elements"] = elements.model_dump() if elements else None
        events: list[Event] = []
        if transition.courier_sign_off:
            events += self._courier_signed(recipient_phone, now, correlation_id, policy, details)
        if transition.activation_is_now:
            self.actual_activation_time = activation_time or now  # License 2.0: the code's activation (§10)
        elif transition.records_activation_time and activation_time is not None:
            self.actual_activation_time = activation_time
        if transition.claims_code:
            self.code_claimed_at = now
        self.rejections += transition.rejection
        self.evidence.extend(evidence)
        self._record(now, role, account_id, action, node.key, transition.to, note, details=details)
        return events + self._follow(transition, node.key, role, account_id, now, correlation_id, policy)

    def _follow(self, transition: Transition, from_node: str, role: PartyRole, account: str | None,
                now: datetime, corr: str, policy: Policy) -> list[Event]:
        if transition.to == from_node:
            return []
        events = self._clear(lambda d: d.node == from_node, "acted", now, corr)
        milestone = None
        if transition.emits is Emits.ACCEPTANCE and self.milestones:
            current = next(m for m in self.milestones if m.accepted_at is None)
            current.accepted_at = now
            milestone = current.milestone_id
            if any(m.accepted_at is None for m in self.milestones):  # more to come: back to delivery (§4.2)
                assert self.template.delivery_node is not None
                back = self.template.delivery_node
                return [*events, self._confirmed(from_node, back, role, account, now, corr, milestone),
                        *self._enter(back, now, corr, policy)]
            events.append(self._confirmed(from_node, None, role, account, now, corr, milestone))
        if transition.emits is Emits.MILESTONE:
            events.append(self._confirmed(from_node, transition.to, role, account, now, corr, None))
        if transition.to is None:
            return events + self._complete(PartyRole.SYSTEM if transition.auto_accepts else role, now, corr)
        return events + self._enter(transition.to, now, corr, policy)

    def _enter(self, node: str, now: datetime, corr: str, policy: Policy) -> list[Event]:
        self.node, self.node_entered_at, self.idle_expired = node, now, False
        return self._start_idle(now, corr, policy)

    def _start_idle(self, now: datetime, corr: str, policy: Policy) -> list[Event]:
        assert self.node is not None
        actor = self.template.node(self.node).actor
        if actor not in (PartyRole.BUYER, PartyRole.MERCHANT):
            return []
        return [self._schedule(DeadlineKind.IDLE, actor, now + policy.idle, corr)]

    def _courier_signed(self, phone: str | None, now: datetime, corr: str, policy: Policy,
                        details: dict[str, Any]) -> list[Event]:
        """Dossier §2.4: 10 days after the courier's sign-off the system accepts, unless the courier's recipient
        phone differs from the buyer's delivery phone (logistics cannot be tracked; the merchant reminds)."""
        if not phone:
            raise InvalidInput("the courier's recipient phone is required with the sign-off", field="recipient_phone")
        events = self._clear(lambda d: d.kind is DeadlineKind.AUTO_ACCEPTANCE, "cancelled", now, corr)
        if self.contact_erased_at is not None:
            details["recipient_phone_matches"] = False
            details["auto_acceptance"] = ("none: the buyer had the delivery contact erased, so the courier's "
                                          "recipient phone cannot be matched; the merchant must remind the buyer "
                                          "to accept (dossier §2.4)")
            return events
        details["recipient_phone_matches"] = matches = same_phone(phone, self.delivery_phone)
        if not matches:
            details["auto_acceptance"] = ("none: the courier's recipient phone differs from the buyer's, so the "
                                          "merchant must remind the buyer to accept (dossier §2.4)")
            return events
        due = now + policy.hardware_auto_accept
        return [*events, self._schedule(DeadlineKind.AUTO_ACCEPTANCE, PartyRole.BUYER, due, corr)]

    def _complete(self, role: PartyRole, now: datetime, corr: str) -> list[Event]:
        events = self._clear(lambda d: True, "acted", now, corr)
        self.node, self.status, self.completed_at = None, Status.COMPLETED, now
        # Dossier §2.0/§10: validity starts at the actual activation time, else at acceptance.
        self.validity_starts_at = self.actual_activation_time or now
        return [*events, AcceptanceDone(**self._env(corr), payload=AcceptanceDonePayload(
            service_order_id=self.service_order_id, order_id=self.order_id, accepted_by=role, accepted_at=now,
            actual_activation_time=self.actual_activation_time, parties=self.parties))]

    def _confirmed(self, node: str, next_node: str | None, role: PartyRole, account: str | None, now: datetime,
                   corr: str, milestone_id: str | None) -> MilestoneConfirmed:
        return MilestoneConfirmed(**self._env(corr), payload=MilestoneConfirmedPayload(
            service_order_id=self.service_order_id, order_id=self.order_id, node=node, next_node=next_node,
            actor_role=role, actor_account_id=account, parties=self.parties, milestone_id=milestone_id,
            confirmed_at=now))

    # --- deadlines ----------------------------------------------------------------------------------

    def fire(self, deadline_id: str, now: datetime, correlation_id: str, policy: Policy | None = None) -> list[Event]:
        """A deadline's time has come (the timer worker calls this). A stale or paused one does nothing."""
        deadline = next((d for d in self.deadlines if d.deadline_id == deadline_id), None)
        if deadline is None or not deadline.running or deadline.due_at > now:
            return []
        policy = policy or Policy()
        events = self._clear(lambda d: d.deadline_id == deadline_id, "expired", now, correlation_id)
        node = self.node or "completed"
        if deadline.kind is DeadlineKind.AUTO_ACCEPTANCE and self.status is Status.ACTIVE:
            self._record(now, PartyRole.SYSTEM, None, "auto_accept", node, None,
                         "no action from the buyer before the deadline")
            return events + self._follow(Transition(to=None, emits=Emits.ACCEPTANCE), node, PartyRole.SYSTEM, None,
                                         now, correlation_id, policy)
        if deadline.kind is DeadlineKind.IDLE:
            self.idle_expired = True
        if deadline.kind is DeadlineKind.APPEAL_SLA and self.open_appeal is not None:
            self.open_appeal.escalated_at = now  # overdue: escalated (dossier §5.3, 3 working days)
        self._record(now, PartyRole.SYSTEM, None, f"{deadline.kind.value}_due", node, self.node,
                     deadline.consequence, details={"deadline_id": deadline_id})
        return events

    # --- appeals and refunds (rules in disputes.py) --------------------------------------------------

    def raise_appeal(self, account_id: str, reason: str, demands: str, attachments: list[str], now: datetime,
                     correlation_id: str, policy: Policy | None = None) -> list[Event]:
        from services.supervision import disputes
        return disputes.raise_appeal(self, account_id, reason, demands, attachments, now, correlation_id,
                                     policy or Policy())

    def resolve_appeal(self, account_id: str, appeal_id: str, outcome: AppealOutcome, now: datetime,
                       correlation_id: str, *, operator: bool, node: str | None = None, note: str = "",
                       policy: Policy | None = None) -> list[Event]:
        from services.supervision import disputes
        return disputes.resolve_appeal(self, account_id, appeal_id, outcome, now, correlation_id,
                                       operator=operator, node=node, note=note, policy=policy or Policy())

    def request_refund(self, account_id: str, refund_id: str, amount: Decimal, reason: str, now: datetime) -> bool:
        from services.supervision import disputes
        return disputes.request_refund(self, account_id, refund_id, amount, reason, now)

    def decide_refund(self, account_id: str, refund_id: str, approve: bool, opinion: str, now: datetime,
                      correlation_id: str) -> list[Event]:
        from services.supervision import disputes
        return disputes.decide_refund(self, account_id, refund_id, approve, opinion, now, correlation_id)

    def refunded(self, refund_id: str, amount: Decimal, reason: str, opinion: str, role: PartyRole,
                 account: str | None, now: datetime, corr: str) -> list[Event]:
        """The order is refunded: every clock stops and settlement never sees it (dossier §4.3)."""
        events = self._clear(lambda d: True, "cancelled", now, corr)
        self.status, self.node = Status.REFUNDED, None
        return [*events, RefundDecided(**self._env(corr), payload=RefundDecidedPayload(
            refund_id=refund_id, order_id=self.order_id, service_order_id=self.service_order_id, approved=True,
            amount=amount, currency=self.currency, reason=reason, opinion=opinion, decided_by_role=role,
            decided_by_account_id=account, parties=self.parties, decided_at=now))]

    def erase_contact(self, now: datetime) -> bool:
        """The buyer had their contact data erased (account.erased): the delivery phone keeps its last two digits
        only. The timeline is evidence and stays as it is (what a record must keep is kept): it never held the
        delivery contact, only whether the courier's phone matched it. False when already erased."""
        if self.contact_erased_at is not None:
            return False
        if self.delivery_phone:
            self.delivery_phone = masked_phone(self.delivery_phone)
        self.contact_erased_at = now
        return True

    def record_upload(self, role: PartyRole, account: str, now: datetime, details: dict[str, Any]) -> None:
        """An uploaded evidence file, on record at any time (appeals need attachments too)."""
        node = self.node or self.status.value
        self._record(now, role, account, "upload", node, self.node, details=details)

    # --- plumbing -----------------------------------------------------------------------------------

    def _guard_operable(self) -> None:
        if self.status is Status.FROZEN:
            assert self.open_appeal is not None
            raise Frozen(f"service order {self.service_order_id} is frozen by appeal "
                         f"{self.open_appeal.appeal_id} until the platform operator resolves it")
        if self.status is Status.REFUNDED:
            raise DomainError(f"service order {self.service_order_id} was refunded")
        if self.status is Status.COMPLETED or self.node is None:
            raise DomainError(f"service order {self.service_order_id} is already completed")
