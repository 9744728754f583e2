"""The service order (服务监管单) of each paid supervised order: its one entry point. Pure: every command
returns the events it caused, and the rules live in the collaborators it calls (see the package docstring)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import AwareDatetime, computed_field

from services.supervision.flows import FlowTemplate
from services.supervision.rules import AcceptanceElements, AcceptanceRule, Policy
from services.supervision.service_order import disputes, flow, refunds, timeouts
from services.supervision.service_order.records import Evidence, MilestoneState
from services.supervision.service_order.state import ServiceOrderState, Status, masked_phone
from shared.schemas import (
    AppealOutcome,
    DeadlineKind,
    Event,
    OrderPaidPayload,
    Parties,
    PartyRole,
    ProductSnapshot,
    RefundDecidedPayload,
)


class ServiceOrder(ServiceOrderState):
    @staticmethod
    def id_for(order_id: str) -> str:
        """One service order per purchase order: a deterministic id makes creation naturally idempotent."""
        return f"SO-{order_id}"

    @classmethod
    def open(
        cls,
        order_id: str,
        parties: Parties,
        product: ProductSnapshot,
        template: FlowTemplate,
        now: datetime,
        **extra: Any,
    ) -> ServiceOrder:
        so = cls(
            service_order_id=cls.id_for(order_id),
            order_id=order_id,
            parties=parties,
            product=product,
            template=template,
            node=template.start,
            created_at=now,
            node_entered_at=now,
            **extra,
        )
        details = {"template": template.template_id, "template_version": template.version}
        so.log.record(now, PartyRole.SYSTEM, None, "open", template.start, template.start, details=details)
        return so

    @classmethod
    def from_order_paid(
        cls,
        p: OrderPaidPayload,
        template: FlowTemplate,
        rule: AcceptanceRule,
        now: datetime,
        correlation_id: str,
        policy: Policy,
    ) -> tuple[ServiceOrder, list[Event]]:
        """Open the service order and start its clocks: the first node's idle deadline and the 180-day one
        (dossier §1.5, counted from payment)."""
        if rule.platform_review:
            template = template.with_platform_review()  # dossier §3.1, §3.5
        stages = [
            MilestoneState(milestone_id=m.milestone_id, title=m.title, proportion=m.proportion)
            for m in p.milestones
        ]
        so = cls.open(
            p.order_id,
            p.parties,
            p.product,
            template,
            now,
            acceptance_rule=rule,
            amount=p.amount,
            currency=p.currency,
            buyer_company=p.buyer_company,
            delivery_phone=p.delivery_contact.phone if p.delivery_contact else None,
            milestones=stages,
        )
        reminder = so.clocks.schedule(
            DeadlineKind.LONG_RUNNING,
            PartyRole.MERCHANT,
            p.paid_at + policy.long_running,
            correlation_id,
            node=None,
        )
        events: list[Event] = [reminder]
        if policy.legacy(p.paid_at):  # dossier §1.5, the old rule: closed by the system after 365 days
            events.append(
                so.clocks.schedule(
                    DeadlineKind.LEGACY_OVERDUE,
                    PartyRole.BUYER,
                    p.paid_at + policy.legacy_close,
                    correlation_id,
                    node=None,
                )
            )
        return so, [*events, *flow.start_idle(so, now, correlation_id, policy)]

    @computed_field  # type: ignore[prop-decorator]
    @property
    def next_step(self) -> dict[str, Any] | None:
        """What happens next: whose step it is and what they can do (the deadlines say until when)."""
        if self.node is None or self.status is not Status.ACTIVE:
            return None
        node = self.template.node(self.node)
        return {
            "node": node.key,
            "title": node.title,
            "title_zh": node.title_zh,
            "actor": node.actor.value,
            "actions": {name: (t.actor or node.actor).value for name, t in node.actions.items()},
        }

    def act(
        self,
        account_id: str,
        action: str,
        now: datetime,
        correlation_id: str,
        *,
        evidence: list[Evidence] | None = None,
        activation_time: AwareDatetime | None = None,
        note: str = "",
        elements: AcceptanceElements | None = None,
        recipient_phone: str | None = None,
        operator: bool = False,
        policy: Policy | None = None,
    ) -> list[Event]:
        """The current node's step (flow.py)."""
        step = flow.Step(evidence or [], activation_time, note, elements, recipient_phone)
        return flow.act(
            self, account_id, action, step, now, correlation_id, operator=operator, policy=policy or Policy()
        )

    def fire(
        self, deadline_id: str, now: datetime, correlation_id: str, policy: Policy | None = None
    ) -> list[Event]:
        """A deadline's time has come (timeouts.py)."""
        return timeouts.fire(self, deadline_id, now, correlation_id, policy or Policy())

    def raise_appeal(
        self,
        account_id: str,
        reason: str,
        demands: str,
        attachments: list[str],
        now: datetime,
        correlation_id: str,
        policy: Policy | None = None,
        proofs: list[Evidence] | None = None,
    ) -> list[Event]:
        """The buyer or the merchant appeals (disputes.py); `proofs`: the attachments that are stored
        files."""
        return disputes.raise_appeal(
            self, account_id, reason, demands, attachments, now, correlation_id, policy or Policy(), proofs
        )

    def resolve_appeal(
        self,
        account_id: str,
        appeal_id: str,
        outcome: AppealOutcome,
        now: datetime,
        correlation_id: str,
        *,
        operator: bool,
        node: str | None = None,
        note: str = "",
        policy: Policy | None = None,
    ) -> list[Event]:
        """A platform operator resolves the open appeal (disputes.py)."""
        return disputes.resolve_appeal(
            self,
            account_id,
            appeal_id,
            outcome,
            now,
            correlation_id,
            operator=operator,
            node=node,
            note=note,
            policy=policy or Policy(),
        )

    def assign_appeal(
        self, account_id: str, appeal_id: str, assignee: str, now: datetime, *, operator: bool
    ) -> list[Event]:
        """An operator assigns the open appeal (disputes.py); nothing is published, the queue reads it."""
        disputes.assign_appeal(self, account_id, appeal_id, assignee, now, operator=operator)
        return []

    def refund_decided(
        self, decision: RefundDecidedPayload, now: datetime, correlation_id: str
    ) -> list[Event]:
        """The orders service decided a refund of the order (refunds.py)."""
        return refunds.refund_decided(self, decision, now, correlation_id)

    def erase_contact(self, now: datetime) -> bool:
        """The buyer had their contact data erased (account.erased): the delivery phone keeps its last two
        digits only. The timeline is evidence and stays as it is (what a record must keep is kept): it never
        held the delivery contact, only whether the courier's phone matched it. False when already erased."""
        if self.contact_erased_at is not None:
            return False
        if self.delivery_phone:
            self.delivery_phone = masked_phone(self.delivery_phone)
        self.contact_erased_at = now
        return True

    def record_upload(self, role: PartyRole, account: str, now: datetime, details: dict[str, Any]) -> None:
        """An uploaded evidence file, on record at any time (appeals need attachments too)."""
        self.log.record(now, role, account, "upload", self.where, self.node, details=details)
