"""Every flow template, walked table-driven from payment to acceptance; the platform-review variant; refusals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from services.supervision import templates
from services.supervision.flows import FlowTemplate
from services.supervision.rules import AcceptanceElements, AcceptanceRule, Policy
from services.supervision.service_order import Evidence, ServiceOrder, Status
from shared.platform.errors import Forbidden, InvalidInput
from shared.schemas import (
    AcceptanceDone,
    DeadlineCleared,
    DeadlineScheduled,
    DeliveryContact,
    DeliveryType,
    Event,
    MilestoneConfirmed,
    OrderPaid,
    PartyRole,
    SaleMode,
)
from tests.factories import order_paid, parties, rid

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
PHONE = "+8613811110001"

DIGEST = "0" * 64  # a stored file's content hash (evidence is always a stored file)


def ev(*kinds: str) -> list[Evidence]:
    return [Evidence(kind=k, name=f"{k}.pdf", file_id=f"EV-{k}", sha256=DIGEST) for k in kinds]


def paid(delivery_type: DeliveryType, **product: Any) -> OrderPaid:
    event = order_paid(parties(), delivery_type=delivery_type)
    p = event.payload
    return event.model_copy(
        update={
            "payload": p.model_copy(
                update={
                    "product": p.product.model_copy(update=product),
                    "buyer_company": "Acme Ltd.",
                    "delivery_contact": DeliveryContact(name="Li", phone=PHONE, address="Shenzhen"),
                }
            )
        }
    )


def open_so(
    event: OrderPaid,
    rule: AcceptanceRule = AcceptanceRule.MERCHANT_CUSTOM,
    template: FlowTemplate | None = None,
) -> ServiceOrder:
    p = event.payload
    chosen = template or templates.template_for(p.product.delivery_type, p.product.flow_template)
    assert chosen is not None
    so, _ = ServiceOrder.from_order_paid(p, chosen, rule, T0, "corr", Policy())
    return so


def who(so: ServiceOrder, role: str) -> str:
    return {"buyer": so.parties.buyer_account_id, "merchant": so.parties.merchant_account_id}.get(role, role)


def flow(events: list[Event]) -> list[type]:
    return [type(e) for e in events if not isinstance(e, DeadlineScheduled | DeadlineCleared)]


M, A = MilestoneConfirmed, AcceptanceDone
# delivery type, variant, [(actor, action, kwargs, flow events)], who accepts
WALKS: list[tuple[DeliveryType, str | None, list[tuple[str, str, dict[str, Any], list[type]]], PartyRole]] = [
    (
        DeliveryType.MANUAL_SERVICE,
        None,
        [
            ("buyer", "submit", {}, []),
            ("merchant", "confirm", {}, [M]),
            ("merchant", "deliver", {"evidence": ev("sow", "acceptance_document")}, [M]),
            ("buyer", "accept", {}, [A]),
        ],
        PartyRole.BUYER,
    ),
    (
        DeliveryType.MANUAL_SERVICE,
        "manual_service.site_building",
        [
            ("buyer", "submit", {}, []),
            ("merchant", "confirm", {}, [M]),
            ("merchant", "share_preview", {"evidence": ev("site_preview")}, [M]),
            ("buyer", "approve_preview", {}, []),
            ("merchant", "deliver", {"evidence": ev("sow", "acceptance_document")}, [M]),
            ("buyer", "accept", {}, [A]),
        ],
        PartyRole.BUYER,
    ),
    (
        DeliveryType.LICENSE_CODE,
        None,
        [
            ("merchant", "implement", {}, [M]),
            ("buyer", "claim", {}, []),
            ("merchant", "activate", {}, [M]),
            ("merchant", "upload_proof", {"evidence": ev("acceptance_document")}, [A]),
        ],
        PartyRole.SYSTEM,
    ),
    (
        DeliveryType.LICENSE_IDENTIFIER,
        None,
        [
            ("buyer", "submit", {}, []),
            ("merchant", "deliver", {"evidence": ev("acceptance_document")}, [M]),
            ("buyer", "accept", {}, [A]),
        ],
        PartyRole.BUYER,
    ),
    (
        DeliveryType.LICENSE_OFFLINE,
        None,
        [("merchant", "deliver", {"evidence": ev("deliverable")}, [M]), ("buyer", "accept", {}, [A])],
        PartyRole.BUYER,
    ),
    (
        DeliveryType.LICENSE_PACKAGE,
        None,
        [
            ("merchant", "deliver", {"evidence": ev("resource_order", "screenshot")}, [M]),
            ("buyer", "accept", {}, [A]),
        ],
        PartyRole.BUYER,
    ),
    (
        DeliveryType.SAAS_SUPERVISED,
        None,
        [
            ("buyer", "submit", {}, []),
            ("merchant", "confirm", {}, [M]),
            ("merchant", "deliver", {"evidence": ev("deliverable")}, [M]),
            ("buyer", "accept", {}, [A]),
        ],
        PartyRole.BUYER,
    ),
    (
        DeliveryType.HARDWARE,
        None,
        [
            ("merchant", "ship", {"evidence": ev("logistics")}, [M]),
            ("merchant", "courier_signed", {"recipient_phone": PHONE}, []),
            ("buyer", "accept", {}, [A]),
        ],
        PartyRole.BUYER,
    ),
    (
        DeliveryType.DATA_FILE,
        None,
        [
            ("buyer", "submit", {}, []),
            ("merchant", "confirm", {}, [M]),
            ("merchant", "deliver", {"evidence": ev("acceptance_document")}, [M]),
            ("buyer", "accept", {}, [A]),
        ],
        PartyRole.BUYER,
    ),
    (
        DeliveryType.APP_ORCHESTRATION,
        None,
        [("merchant", "deliver", {"evidence": ev("acceptance_document")}, [M]), ("buyer", "accept", {}, [A])],
        PartyRole.BUYER,
    ),
]


def test_every_supervised_delivery_type_has_a_template() -> None:
    supervised = {t for t in DeliveryType if t.supervised}
    assert set(templates.TEMPLATES) == supervised
    assert {t for t in DeliveryType if not t.supervised} == {
        DeliveryType.IMAGE,
        DeliveryType.API,
        DeliveryType.SAAS_INSTANT,
    }
    assert {w[0] for w in WALKS} == supervised


@pytest.mark.parametrize(
    ("delivery_type", "variant", "steps", "accepted_by"),
    WALKS,
    ids=[f"{w[0].value}:{w[1] or 'default'}" for w in WALKS],
)
def test_each_template_walks_from_payment_to_acceptance(
    delivery_type: DeliveryType,
    variant: str | None,
    steps: list[tuple[str, str, dict[str, Any], list[type]]],
    accepted_by: PartyRole,
) -> None:
    so = open_so(paid(delivery_type, flow_template=variant))
    assert so.template.template_id == (variant or templates.TEMPLATES[delivery_type].template_id)
    for minute, (role, action, kw, expected) in enumerate(steps, start=1):
        events = so.act(who(so, role), action, T0 + timedelta(minutes=minute), "corr", **kw)
        assert flow(events) == expected, action
    assert so.status is Status.COMPLETED
    assert [e.action for e in so.timeline] == ["open", *[s[1] for s in steps]]
    [done] = [e for e in events if isinstance(e, AcceptanceDone)]
    assert done.payload.accepted_by is accepted_by
    assert so.deadlines == []  # completion stops every clock


@pytest.mark.parametrize(
    ("delivery_type", "variant", "steps", "accepted_by"),
    WALKS,
    ids=[f"{w[0].value}:{w[1] or 'default'}" for w in WALKS],
)
def test_each_templates_nodes_refuse_the_wrong_party(
    delivery_type: DeliveryType,
    variant: str | None,
    steps: list[tuple[str, str, dict[str, Any], list[type]]],
    accepted_by: PartyRole,
) -> None:
    so = open_so(paid(delivery_type, flow_template=variant))
    for role, action, kw, _ in steps:
        wrong = "merchant" if role == "buyer" else "buyer"
        with pytest.raises(Forbidden):
            so.act(who(so, wrong), action, T0, "corr", **kw)
        with pytest.raises(Forbidden):
            so.act(rid("stranger"), action, T0, "corr", **kw)
        so.act(who(so, role), action, T0, "corr", **kw)


@pytest.mark.parametrize(
    ("delivery_type", "node", "action", "needs"),
    [
        (DeliveryType.LICENSE_OFFLINE, "deliver", "deliver", {"deliverable"}),
        (DeliveryType.LICENSE_PACKAGE, "deploy", "deliver", {"resource_order", "screenshot"}),
        (DeliveryType.HARDWARE, "ship", "ship", {"logistics"}),
        (DeliveryType.APP_ORCHESTRATION, "deliver", "deliver", {"acceptance_document"}),
    ],
)
def test_delivery_nodes_require_their_evidence(
    delivery_type: DeliveryType, node: str, action: str, needs: set[str]
) -> None:
    so = open_so(paid(delivery_type))
    assert so.node == node
    with pytest.raises(InvalidInput) as refused:
        so.act(so.parties.merchant_account_id, action, T0, "corr")
    assert refused.value.field == "evidence"
    assert all(k in refused.value.message for k in needs)


def test_a_variant_of_another_delivery_type_is_ignored() -> None:
    so = open_so(paid(DeliveryType.HARDWARE, flow_template="manual_service.site_building"))
    assert so.template.template_id == "hardware.standard"


def test_license_2_takes_the_activation_time_as_the_validity_start() -> None:
    so = open_so(paid(DeliveryType.LICENSE_CODE))
    so.act(so.parties.merchant_account_id, "implement", T0, "corr")
    so.act(so.parties.buyer_account_id, "claim", T0 + timedelta(hours=1), "corr")
    assert so.code_claimed_at == T0 + timedelta(hours=1)
    activated = T0 + timedelta(hours=2)
    so.act(so.parties.merchant_account_id, "activate", activated, "corr")
    events = so.act(
        so.parties.merchant_account_id,
        "upload_proof",
        T0 + timedelta(days=3),
        "corr",
        evidence=ev("acceptance_document"),
    )
    [done] = [e for e in events if isinstance(e, AcceptanceDone)]
    assert done.payload.actual_activation_time == activated
    assert done.payload.accepted_by is PartyRole.SYSTEM  # the system accepts, not a party (dossier §2.2.a)
    assert so.validity_starts_at == activated


def test_validity_starts_at_acceptance_without_an_activation_time() -> None:
    so = open_so(paid(DeliveryType.LICENSE_OFFLINE))
    so.act(so.parties.merchant_account_id, "deliver", T0, "corr", evidence=ev("deliverable"))
    so.act(so.parties.buyer_account_id, "accept", T0 + timedelta(days=2), "corr")
    assert so.validity_starts_at == T0 + timedelta(days=2)


# --- platform review (华为云复核) ---------------------------------------------------------------


def elements(so: ServiceOrder, **override: str) -> AcceptanceElements:
    return AcceptanceElements(
        **{
            "order_number": so.order_id,
            "company_name": "Acme Ltd.",
            "product_name": so.product.name,
            "spec_name": "Standard",
            **override,
        }
    )


def reviewed(delivery_type: DeliveryType) -> ServiceOrder:
    return open_so(
        paid(delivery_type, sale_mode=SaleMode.JOINT_OPERATION, spec_name="Standard"),
        AcceptanceRule.EMPOWERMENT_CLOUD,
    )


def test_a_review_rule_inserts_the_platform_review_after_delivery() -> None:
    so = reviewed(DeliveryType.MANUAL_SERVICE)
    assert so.template.version.endswith("+review")
    assert so.template.node("platform_review").actor is PartyRole.OPERATOR
    so.act(so.parties.buyer_account_id, "submit", T0, "corr")
    so.act(so.parties.merchant_account_id, "confirm", T0, "corr")
    so.act(
        so.parties.merchant_account_id,
        "deliver",
        T0,
        "corr",
        evidence=ev("sow", "acceptance_document"),
        elements=elements(so),
    )
    assert so.node == "platform_review"
    with pytest.raises(Forbidden):
        so.act(so.parties.merchant_account_id, "approve", T0, "corr")
    with pytest.raises(Forbidden):
        so.act(rid("not-an-operator"), "approve", T0, "corr")
    assert flow(so.act("op-1", "approve", T0, "corr", operator=True)) == [MilestoneConfirmed]
    assert so.node == "accept"
    so.act(so.parties.buyer_account_id, "accept", T0, "corr")
    assert so.status is Status.COMPLETED


def test_the_operator_can_send_the_delivery_back() -> None:
    so = reviewed(DeliveryType.LICENSE_OFFLINE)
    so.act(
        so.parties.merchant_account_id,
        "deliver",
        T0,
        "corr",
        evidence=ev("deliverable"),
        elements=elements(so),
    )
    so.act("op-1", "reject", T0, "corr", operator=True)
    assert so.node == "deliver"
    assert so.rejections == 1


def test_license_2_is_accepted_automatically_after_the_review() -> None:
    so = reviewed(DeliveryType.LICENSE_CODE)
    so.act(so.parties.merchant_account_id, "implement", T0, "corr")
    so.act(so.parties.buyer_account_id, "claim", T0, "corr")
    so.act(so.parties.merchant_account_id, "activate", T0, "corr")
    events = so.act(
        so.parties.merchant_account_id,
        "upload_proof",
        T0,
        "corr",
        evidence=ev("acceptance_document"),
        elements=elements(so),
    )
    assert flow(events) == [MilestoneConfirmed]
    assert so.node == "platform_review"
    [done] = so.act("op-1", "approve", T0, "corr", operator=True)[-1:]
    assert isinstance(done, AcceptanceDone)
    assert done.payload.accepted_by is PartyRole.SYSTEM


@pytest.mark.parametrize(
    ("override", "complaint"),
    [
        ({"order_number": "XX-1"}, "must start with 'CS'"),
        ({"order_number": "CS-other"}, "is not this order"),
        ({"company_name": "Acme"}, "full company name"),
        ({"product_name": "Something else"}, "is not the ordered product"),
        ({"spec_name": "Premium"}, "specification"),
    ],
)
def test_the_review_checks_the_acceptance_document_elements(override: dict[str, str], complaint: str) -> None:
    so = reviewed(DeliveryType.LICENSE_OFFLINE)
    with pytest.raises(InvalidInput) as refused:
        so.act(
            so.parties.merchant_account_id,
            "deliver",
            T0,
            "corr",
            evidence=ev("deliverable"),
            elements=elements(so, **override),
        )
    assert refused.value.field == "acceptance_elements"
    assert complaint in refused.value.message
    assert so.node == "deliver"


def test_one_acceptance_document_may_cover_several_orders_of_the_buyer() -> None:
    so = reviewed(DeliveryType.LICENSE_OFFLINE)
    so.act(
        so.parties.merchant_account_id,
        "deliver",
        T0,
        "corr",
        evidence=ev("deliverable"),
        elements=elements(so, order_number=f"CS0001, {so.order_id}"),
    )
    assert so.node == "platform_review"


def test_the_review_needs_the_elements_at_all() -> None:
    so = reviewed(DeliveryType.LICENSE_OFFLINE)
    with pytest.raises(InvalidInput, match=r"dossier §3\.2"):
        so.act(so.parties.merchant_account_id, "deliver", T0, "corr", evidence=ev("deliverable"))


def test_merchant_custom_orders_need_no_elements() -> None:
    so = open_so(paid(DeliveryType.LICENSE_OFFLINE))
    so.act(so.parties.merchant_account_id, "deliver", T0, "corr", evidence=ev("deliverable"))
    assert so.node == "accept"
    assert "platform_review" not in so.template.nodes
    assert so.amount == Decimal("100.00")
