"""The orders the harness drives, and what each must leave behind once the dust settles.

Seven stories, mixed in a fixed proportion (out of every 20 orders):
- 7 `supervised`: a supervised manual service from the catalogue: pay → submit → confirm → deliver → accept →
  completed (dossier §2.1);
- 4 `supervised_link`: the same through a customer service provider's private link: the provider earns
  its 10 % at acceptance (§7.5);
- 1 `appeal_resume`: the buyer appeals while the merchant delivers; the operator resumes the flow; completed
  (§5);
- 1 `appeal_refund`: through a private link; the merchant appeals; the operator refunds the order in full
  (§5.3): refunded before acceptance, the provider's earning never accrues (nothing booked, nothing reversed);
- 1 `guarantee_refund`: through a private link; the buyer asks the orders service for a refund in the
  guarantee period and the merchant approves there (§1.4): no earning either;
- 4 `image_link`: an unsupervised image through a private link: complete once paid, the provider earns at
  once;
- 2 `image_refund`: the same, then the 5-day no-reason refund (§1.4): the earning is reversed.

For each story: the order's final status, the messages every party must get (message type × channel, from the
notification catalogue: mandatory types reach the bound e-mail and phone of an account without recipients, an
optional one its inbox only) and the provider's ledger entries.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Any

from chaos.cluster import Cluster
from chaos.world import IMAGE_PRICE, SHARE, SUPERVISED_PRICE, Person, World

# The delivery's evidence: files uploaded to the service order first, named by their ids (evidence is always a
# stored file).
DELIVERY_FILES = (("sow", "SOW.pdf"), ("acceptance_document", "acc.pdf"))
ACTIVATION = {"actual_activation_time": "2026-11-20T09:00:00+08:00"}
WAIT = 900.0  # how long a step waits for what another service must do first (faults delay it, never forever)


class Kind(StrEnum):
    SUPERVISED = "supervised"
    SUPERVISED_LINK = "supervised_link"
    APPEAL_RESUME = "appeal_resume"
    APPEAL_REFUND = "appeal_refund"
    GUARANTEE_REFUND = "guarantee_refund"
    IMAGE_LINK = "image_link"
    IMAGE_REFUND = "image_refund"


MIX = {
    Kind.SUPERVISED: 7,
    Kind.SUPERVISED_LINK: 4,
    Kind.APPEAL_RESUME: 1,
    Kind.APPEAL_REFUND: 1,
    Kind.GUARANTEE_REFUND: 1,
    Kind.IMAGE_LINK: 4,
    Kind.IMAGE_REFUND: 2,
}
LINKED = {Kind.SUPERVISED_LINK, Kind.APPEAL_REFUND, Kind.GUARANTEE_REFUND, Kind.IMAGE_LINK, Kind.IMAGE_REFUND}
IMAGE = {Kind.IMAGE_LINK, Kind.IMAGE_REFUND}
REFUNDED = {Kind.APPEAL_REFUND, Kind.GUARANTEE_REFUND, Kind.IMAGE_REFUND}
ALL = ("in_site", "email", "sms")
CHANNELS = {"order_provider": ("in_site",), "appeal_to_review": ("in_site", "email")}  # the others: ALL

# Per story and role, the message types the parties get (notification/catalogue.py).
_PAID = {"buyer": ["order_paid"], "merchant": ["order_received"]}
MESSAGES: dict[Kind, dict[str, list[str]]] = {
    Kind.SUPERVISED: {
        "buyer": ["order_paid", "milestone_confirmed", "milestone_confirmed", "order_completed"],
        "merchant": ["order_received", "acceptance_done"],
    },
    Kind.APPEAL_RESUME: {
        "buyer": [
            "order_paid",
            "milestone_confirmed",
            "appeal_raised",
            "appeal_resolved",
            "milestone_confirmed",
            "order_completed",
        ],
        "merchant": ["order_received", "appeal_raised", "appeal_resolved", "acceptance_done"],
        "operator": ["appeal_to_review"],
    },
    Kind.APPEAL_REFUND: {
        "buyer": ["order_paid", "milestone_confirmed", "appeal_raised", "appeal_resolved", "refund_decided"],
        "merchant": ["order_received", "appeal_raised", "appeal_resolved", "refund_decided"],
        "operator": ["appeal_to_review"],
        "provider": ["order_provider"],
    },
    # The merchant is told of the request; it decided, so only the buyer is told of the decision.
    Kind.GUARANTEE_REFUND: {
        "buyer": ["order_paid", "refund_decided"],
        "merchant": ["order_received", "refund_requested"],
        "provider": ["order_provider"],
    },
    Kind.IMAGE_LINK: {**_PAID, "provider": ["order_provider"]},
    # The 5-day no-reason refund is the platform's at once: refund.decided only, told to both parties.
    Kind.IMAGE_REFUND: {
        "buyer": ["order_paid", "refund_decided"],
        "merchant": ["order_received", "refund_decided"],
        "provider": ["order_provider"],
    },
}
MESSAGES[Kind.SUPERVISED_LINK] = {**MESSAGES[Kind.SUPERVISED], "provider": ["order_provider"]}


def mix(orders: int, seed: int = 10) -> list[Kind]:
    """`orders` stories in the fixed proportion, shuffled the same way every run (so runs compare)."""
    cycle = [k for k, n in MIX.items() for _ in range(n)]
    kinds = [cycle[i % len(cycle)] for i in range(orders)]
    random.Random(seed).shuffle(kinds)
    return kinds


@dataclass
class Progress:
    """When things were seen to happen (monotonic seconds): the fault table's recovery times read it."""

    marks: dict[str, list[float]] = field(default_factory=dict)

    def mark(self, what: str) -> None:
        self.marks.setdefault(what, []).append(time.monotonic())

    def first_after(self, what: str, t: float) -> float | None:
        later = [m for m in self.marks.get(what, []) if m >= t]
        return min(later) if later else None

    def count(self, what: str) -> int:
        return len(self.marks.get(what, []))


@dataclass
class Plan:
    """One order of the run: who, which story, and what happened to it."""

    index: int
    kind: Kind
    buyer: Person
    merchant: Person
    provider: Person | None
    order_id: str = ""
    so_id: str = ""
    amount: Decimal = Decimal(0)
    step: str = "not started"
    error: str | None = None
    done: bool = False

    @property
    def final_status(self) -> str:
        return "refunded" if self.kind in REFUNDED else "completed"

    def expected_messages(self, operator: Person) -> Counter[tuple[str, str, str]]:
        """(account id, message type, channel) → how many deliveries this order must make."""
        who = {
            "buyer": self.buyer,
            "merchant": self.merchant,
            "provider": self.provider,
            "operator": operator,
        }
        out: Counter[tuple[str, str, str]] = Counter()
        for role, types in MESSAGES[self.kind].items():
            person = who[role]
            assert person is not None
            for t in types:
                for channel in CHANNELS.get(t, ALL):
                    out[(person.id, t, channel)] += 1
        return out

    def expected_ledger(self) -> Counter[tuple[str, Decimal]]:
        """(kind, amount) → how many entries the provider's ledger must hold for this order."""
        if self.provider is None or self.kind in (Kind.APPEAL_REFUND, Kind.GUARANTEE_REFUND):
            return Counter()  # refunded before acceptance: the earning never accrues
        earning = ((IMAGE_PRICE if self.kind in IMAGE else SUPERVISED_PRICE) * SHARE).quantize(
            Decimal("0.01")
        )
        entries = Counter({("commission", earning): 1})
        if self.kind is Kind.IMAGE_REFUND:
            entries[("reversal", -earning)] = 1
        return entries


def plans(world: World, orders: int) -> list[Plan]:
    out = []
    for i, kind in enumerate(mix(orders)):
        provider = world.providers[i % len(world.providers)] if kind in LINKED else None
        out.append(
            Plan(
                i,
                kind,
                world.buyers[i % len(world.buyers)],
                world.merchants[(i // len(world.buyers) + i) % len(world.merchants)],
                provider,
            )
        )
    return out


async def drive(plan: Plan, cluster: Cluster, world: World, progress: Progress) -> None:
    """Walk one order through its story. Every call goes to any live replica and is retried through faults."""
    c, buyer, merchant, op = cluster, plan.buyer, plan.merchant, world.operator
    product = world.products[merchant.id]["image" if plan.kind in IMAGE else "supervised"]
    body: dict[str, Any] = {"product_id": product}
    if plan.provider is not None:
        plan.step = "private link"
        link = await c.call(
            "POST",
            "partner",
            f"/providers/{plan.provider.id}/private-links",
            plan.provider,
            expect=201,
            json={"product_id": product, "customer_account_id": buyer.id},
        )
        body["private_link"] = link["token"]
    plan.step = "place"
    order = await c.call("POST", "orders", "/orders", buyer, expect=201, json=body)
    plan.order_id, plan.amount = order["order_id"], Decimal(order["amount"])
    plan.step = "pay"
    await c.call(
        "POST",
        "orders",
        f"/orders/{plan.order_id}/pay",
        world.payment,
        json={"payment_id": f"PAY-{plan.order_id}", "amount": order["amount"]},
    )
    progress.mark("paid")
    if plan.kind in IMAGE:
        if plan.kind is Kind.IMAGE_REFUND:
            plan.step = "5-day refund"
            await c.call(
                "POST",
                "orders",
                f"/purchased-services/{plan.order_id}/unsubscribe",
                buyer,
                json={"reason": "wrong edition"},
            )
        plan.step, plan.done = "done", True
        return
    plan.step = "service order"
    so = await c.eventually(
        f"the service order of {plan.order_id}",
        lambda: c.find("supervision", f"/service-orders/by-order/{plan.order_id}", buyer),
        within=WAIT,
    )
    progress.mark("service_order")
    plan.so_id = so["service_order_id"]
    await act(c, plan, buyer, "submit")
    if plan.kind is Kind.GUARANTEE_REFUND:
        plan.step = "refund"
        # Refunds are the orders service's: the buyer asks on the purchased service, the merchant decides.
        requested = await c.call(
            "POST",
            "orders",
            f"/purchased-services/{plan.order_id}/unsubscribe",
            buyer,
            json={"amount": "200.00", "reason": "scope reduced"},
        )
        refund_id = requested["refund"]["refund_id"]
        await c.call(
            "POST",
            "orders",
            f"/orders/{plan.order_id}/refunds/{refund_id}/decision",
            merchant,
            json={
                "approve": True,
                "opinion": "agreed on the phone",
                "agreed_record": {"kind": "document", "ref": "call notes"},
            },
        )
        plan.step, plan.done = "done", True
        return
    await act(c, plan, merchant, "confirm")
    if plan.kind in (Kind.APPEAL_RESUME, Kind.APPEAL_REFUND):
        plan.step = "appeal"
        appellant = buyer if plan.kind is Kind.APPEAL_RESUME else merchant
        so = await c.call(
            "POST",
            "supervision",
            f"/service-orders/{plan.so_id}/appeals",
            appellant,
            expect=201,
            json={"reason": "no progress for a week", "demands": "the platform decides"},
        )
        outcome = "resume" if plan.kind is Kind.APPEAL_RESUME else "refund"
        plan.step = "appeal resolution"
        await c.call(
            "POST",
            "supervision",
            f"/service-orders/{plan.so_id}/appeals/{so['open_appeal']['appeal_id']}/resolution",
            op,
            json={"outcome": outcome, "note": "resolved by the chaos harness's operator"},
        )
        if outcome == "refund":
            plan.step, plan.done = "done", True
            return
    await act(c, plan, merchant, "deliver", await delivery(c, plan, merchant))
    await act(c, plan, buyer, "accept")
    plan.step, plan.done = "done", True


async def delivery(c: Cluster, plan: Plan, merchant: Person) -> dict[str, Any]:
    """Upload the SOW and the acceptance document, and name them in the delivery."""
    plan.step = "evidence upload"
    evidence = []
    for kind, name in DELIVERY_FILES:
        meta = await c.call(
            "POST",
            "supervision",
            f"/service-orders/{plan.so_id}/files",
            merchant,
            expect=201,
            files={"file": (name, f"%PDF-1.7 {name}".encode(), "application/pdf")},
            data={"kind": kind},
        )
        evidence.append({"kind": kind, "name": name, "file_id": meta["file_id"]})
    return {"evidence": evidence, **ACTIVATION}


async def act(c: Cluster, plan: Plan, who: Person, action: str, body: dict[str, Any] | None = None) -> None:
    plan.step = action
    await c.call(
        "POST", "supervision", f"/service-orders/{plan.so_id}/actions/{action}", who, json=body or {}
    )
