"""Catalogue publishing rules (dossier §9.1, §4.1, §4.2) and the operator's review, one test per rule."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from services.orders.catalogue import Asset, Certification, Product, Specification, milestones_problem
from shared.platform.errors import DomainError, Forbidden, InvalidInput
from shared.schemas import BillingMode, DeliveryType, Milestone, SaleMode

NOW = datetime(2026, 11, 2, tzinfo=UTC)
MERCHANT = "merchant-1"


def spec(
    billing: BillingMode = BillingMode.ONE_TIME,
    months: int | None = None,
    milestones: list[Milestone] | None = None,
) -> Specification:
    return Specification(
        spec_id="s1",
        name="Standard",
        billing_mode=billing,
        price=Decimal("100.00"),
        period_months=months,
        milestones=milestones or [],
    )


def product(
    delivery: DeliveryType = DeliveryType.MANUAL_SERVICE,
    sale: SaleMode = SaleMode.GENERAL,
    template: str | None = "standard",
    specs: list[Specification] | None = None,
    asset_id: str | None = None,
) -> Product:
    return Product(
        product_id="p1",
        merchant_account_id=MERCHANT,
        merchant_name="Acme",
        name="Migration",
        delivery_type=delivery,
        sale_mode=sale,
        specifications=specs or [spec()],
        flow_template=template,
        asset_id=asset_id,
        promised_delivery_days=10,
        acceptance_standard="SOW signed",
    )


def asset(released: bool = True, scan: str = "passed", owner: str = MERCHANT) -> Asset:
    verdict: Any = scan  # any text: the model says which it takes
    return Asset(asset_id="a1", merchant_account_id=owner, name="pkg", released=released, scan=verdict)


def cert(score: int) -> Certification:
    return Certification(
        certification_id=f"{MERCHANT}:p1",
        merchant_account_id=MERCHANT,
        product_id="p1",
        score=score,
        certified_at=NOW,
    )


def milestones(*parts: str) -> list[Milestone]:
    return [
        Milestone(milestone_id=f"m{i}", title=f"stage {i}", proportion=Decimal(p))
        for i, p in enumerate(parts)
    ]


def test_a_complete_manual_service_goes_to_review() -> None:
    p = product()
    p.publish(MERCHANT, None, None)
    assert p.status == "pending_review"


def test_only_its_merchant_publishes_a_product() -> None:
    with pytest.raises(Forbidden):
        product().publish("someone-else", None, None)


@pytest.mark.parametrize(
    "delivery",
    [
        DeliveryType.LICENSE_CODE,
        DeliveryType.LICENSE_IDENTIFIER,
        DeliveryType.LICENSE_OFFLINE,
        DeliveryType.LICENSE_PACKAGE,
    ],
)
@pytest.mark.parametrize(
    ("the_asset", "why"),
    [
        (None, "needs its software package in the asset centre"),
        (asset(owner="other-merchant"), "needs its software package in the asset centre"),
        (asset(released=False), "is not released"),
        (asset(scan="pending"), "has not passed its security scan (pending"),
        (asset(scan="failed"), "has not passed its security scan (failed"),
    ],
)
def test_a_license_product_needs_a_released_and_scanned_package(
    delivery: DeliveryType, the_asset: Asset | None, why: str
) -> None:
    p = product(delivery, asset_id="a1")
    with pytest.raises(DomainError, match=r"dossier §9\.1") as refused:
        p.publish(MERCHANT, the_asset, None)
    assert why in refused.value.message
    assert refused.value.field == "asset_id"
    assert p.status == "draft"


def test_a_license_product_with_a_released_scanned_package_goes_to_review() -> None:
    p = product(DeliveryType.LICENSE_PACKAGE, asset_id="a1")
    p.publish(MERCHANT, asset(), None)
    assert p.status == "pending_review"


@pytest.mark.parametrize("certification", [None, cert(60), cert(30)])
def test_a_joint_operation_product_needs_its_certification_first(certification: Certification | None) -> None:
    p = product(sale=SaleMode.JOINT_OPERATION)
    with pytest.raises(DomainError, match="joint-operation certification") as refused:
        p.publish(MERCHANT, None, certification)
    assert refused.value.field == "sale_mode"


def test_a_certified_joint_operation_product_goes_to_review() -> None:
    p = product(sale=SaleMode.JOINT_OPERATION)
    p.publish(MERCHANT, None, cert(61))
    assert p.status == "pending_review"


@pytest.mark.parametrize("delivery", [d for d in DeliveryType if d.supervised and "license" not in d.value])
def test_a_supervised_product_needs_a_flow_template(delivery: DeliveryType) -> None:
    with pytest.raises(DomainError, match="service-flow template") as refused:
        product(delivery, template=None).publish(MERCHANT, None, None)
    assert refused.value.field == "flow_template"


@pytest.mark.parametrize("delivery", [DeliveryType.IMAGE, DeliveryType.API, DeliveryType.SAAS_INSTANT])
def test_an_unsupervised_product_needs_no_flow_template(delivery: DeliveryType) -> None:
    p = product(delivery, template=None)
    p.publish(MERCHANT, None, None)
    assert p.status == "pending_review"


@pytest.mark.parametrize(
    "billing",
    [
        BillingMode.PERIODIC_YEARLY,
        BillingMode.PERIODIC_MONTHLY,
        BillingMode.PAY_PER_USE,
        BillingMode.PAY_PER_USE_PACKAGE,
        BillingMode.PER_USE,
    ],
)
def test_a_milestone_offer_needs_one_time_billing(billing: BillingMode) -> None:
    p = product(specs=[spec(billing, months=12, milestones=milestones("0.3", "0.7"))])
    with pytest.raises(DomainError, match=r"one-time billing.*dossier §4\.2"):
        p.publish(MERCHANT, None, None)


def test_milestone_proportions_must_sum_to_one() -> None:
    p = product(specs=[spec(milestones=milestones("0.3", "0.6"))])
    with pytest.raises(DomainError, match="sum to 1"):
        p.publish(MERCHANT, None, None)


def test_a_one_time_milestone_offer_goes_to_review() -> None:
    p = product(specs=[spec(milestones=milestones("0.3", "0.7"))])
    p.publish(MERCHANT, None, None)
    assert p.status == "pending_review"


@pytest.mark.parametrize("order_type", ["renewal", "upgrade", "unsubscribe"])
def test_milestones_are_for_new_purchases_only(order_type: str) -> None:
    problem = milestones_problem(milestones("0.5", "0.5"), BillingMode.ONE_TIME, order_type)
    assert problem is not None
    assert "new purchases only" in problem
    assert "§4.2" in problem


def test_a_periodic_specification_needs_its_period() -> None:
    with pytest.raises(DomainError, match="period_months"):
        product(specs=[spec(BillingMode.PERIODIC_MONTHLY)]).publish(MERCHANT, None, None)


@pytest.mark.parametrize("status", ["pending_review", "listed"])
def test_a_product_under_review_or_listed_is_not_published_again(status: str) -> None:
    p = product().model_copy(update={"status": status})
    with pytest.raises(DomainError, match=f"already {status}"):
        p.publish(MERCHANT, None, None)


# --- review --------------------------------------------------------------------------------------


def pending() -> Product:
    p = product()
    p.publish(MERCHANT, None, None)
    return p


def test_the_operator_lists_a_product() -> None:
    p = pending()
    p.review("op-1", True, "", NOW)
    assert (p.status, p.listed_at, p.reviewed_by) == ("listed", NOW, "op-1")


def test_a_rejection_names_the_reason_and_the_merchant_may_publish_again() -> None:
    p = pending()
    with pytest.raises(InvalidInput):
        p.review("op-1", False, "  ", NOW)
    p.review("op-1", False, "acceptance standard too vague", NOW)
    assert (p.status, p.review_note, p.listed_at) == ("rejected", "acceptance standard too vague", None)
    p.publish(MERCHANT, None, None)
    assert p.status == "pending_review"


@pytest.mark.parametrize("status", ["draft", "listed", "rejected"])
def test_only_a_pending_publication_is_reviewed(status: str) -> None:
    p = product().model_copy(update={"status": status})
    with pytest.raises(DomainError, match="pending review"):
        p.review("op-1", True, "", NOW)


def test_the_snapshot_carries_the_chosen_specification_and_the_product_facts() -> None:
    p = product(
        specs=[
            spec(),
            Specification(
                spec_id="s2",
                name="Yearly",
                billing_mode=BillingMode.PERIODIC_YEARLY,
                price=Decimal("900"),
                period_months=12,
            ),
        ]
    )
    snap = p.snapshot(p.spec("s2"))
    assert (snap.spec_id, snap.spec_name, snap.billing_mode, snap.period_months) == (
        "s2",
        "Yearly",
        BillingMode.PERIODIC_YEARLY,
        12,
    )
    assert (
        snap.merchant_name,
        snap.flow_template,
        snap.promised_delivery_days,
        snap.acceptance_standard,
    ) == ("Acme", "standard", 10, "SOW signed")
    with pytest.raises(InvalidInput):
        p.spec("nope")


@pytest.mark.parametrize(
    "delivery",
    [
        DeliveryType.HARDWARE,
        DeliveryType.DATA_FILE,
        DeliveryType.APP_ORCHESTRATION,
        DeliveryType.IMAGE,
        DeliveryType.API,
    ],
)
def test_milestone_offers_are_for_saas_license_and_professional_services_only(delivery: DeliveryType) -> None:
    p = product(delivery, specs=[spec(milestones=milestones("0.5", "0.5"))])
    with pytest.raises(DomainError, match=r"SaaS, License and professional services.*§4\.2"):
        p.publish(MERCHANT, None, None)
