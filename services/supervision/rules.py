"""Pure rules: which acceptance rule a service order follows, the acceptance-document element check, which
orders may be split into milestones, and the business-day calendar of the appeal SLA."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum

from pydantic import BaseModel, Field

from shared.platform.errors import InvalidInput
from shared.schemas import BillingMode, BuyerTrack, CouponKind, DeliveryType, OrderPaidPayload, SaleMode
from shared.workdays import WorkdayCalendar


class AcceptanceRule(StrEnum):
    MERCHANT_CUSTOM = "merchant_custom"  # 商家自定义验收规则 (dossier §3.4)
    EMPOWERMENT_CLOUD = "empowerment_cloud"  # 联营 赋能云 rule: platform review (dossier §3.2)
    BASE_CLOUD = "base_cloud"  # 联营 基地云 rule: platform review (dossier §3.3)

    @property
    def platform_review(self) -> bool:
        return self is not AcceptanceRule.MERCHANT_CUSTOM


def acceptance_rule(p: OrderPaidPayload) -> AcceptanceRule:
    """Dossier §3.1 decision table. General and self-service products: merchant-custom in every scenario.
    Joint-operation: 赋能云 if the buyer is in that track or used its cash coupon; else 基地云 likewise with
    its pick-up voucher; otherwise merchant-custom. [I] A buyer qualifying for both is routed to 赋能云, the
    rule the marketplace kept longest (§2.0: only 赋能云 kept the review after 2023-04-28)."""
    if p.product.sale_mode is not SaleMode.JOINT_OPERATION:
        return AcceptanceRule.MERCHANT_CUSTOM
    kinds = {c.kind for c in p.coupons}
    if p.buyer_track is BuyerTrack.EMPOWERMENT_CLOUD or CouponKind.EMPOWERMENT_CLOUD_CASH in kinds:
        return AcceptanceRule.EMPOWERMENT_CLOUD
    if p.buyer_track is BuyerTrack.BASE_CLOUD or CouponKind.BASE_CLOUD_VOUCHER in kinds:
        return AcceptanceRule.BASE_CLOUD
    return AcceptanceRule.MERCHANT_CUSTOM


class AcceptanceElements(BaseModel):
    """What the acceptance document says (dossier §3.2, the 5 key elements; 4–5 are not documented [?])."""

    order_number: str = Field(min_length=1, max_length=64)
    company_name: str = Field(min_length=1, max_length=255)
    product_name: str = Field(min_length=1, max_length=255)
    spec_name: str | None = Field(default=None, max_length=255)


@dataclass(frozen=True)
class Expected:
    order_id: str
    company_name: str | None
    product_name: str
    spec_name: str | None


def element_problems(given: AcceptanceElements | None, expected: Expected) -> list[str]:
    """Every element of the acceptance document that does not match the order, in words (empty: all good)."""
    if given is None:
        return [
            "the acceptance document's elements (order number, full company name, product and "
            "specification) are required for the platform review (dossier §3.2)"
        ]
    problems = []
    # Several orders of one buyer for one project may share a document (§3.2): a comma-separated list.
    numbers = [n.strip() for n in given.order_number.split(",") if n.strip()]
    problems += [f"order number {n!r} must start with 'CS'" for n in numbers if not n.startswith("CS")]
    if expected.order_id not in numbers:
        problems.append(f"order number {given.order_number!r} is not this order ({expected.order_id})")
    if expected.company_name is not None and given.company_name.strip() != expected.company_name.strip():
        problems.append(
            f"company name {given.company_name!r} is not the buyer's full company name "
            f"{expected.company_name!r}"
        )
    if given.product_name.strip() != expected.product_name.strip():
        problems.append(
            f"product {given.product_name!r} is not the ordered product {expected.product_name!r}"
        )
    if expected.spec_name is not None and (given.spec_name or "").strip() != expected.spec_name.strip():
        problems.append(f"specification {given.spec_name!r} is not the ordered one {expected.spec_name!r}")
    return problems


# [I] License 2.0 is accepted automatically at the end of its one pass, so it cannot loop per milestone.
def same_phone(a: str | None, b: str | None) -> bool:
    """Phones compared by their digits, so "+86 138-1111-0001" and "+8613811110001" are one number."""
    digits = ["".join(ch for ch in p if ch.isdigit()) for p in (a or "", b or "")]
    return bool(digits[0]) and digits[0] == digits[1]


MILESTONE_TYPES = {
    DeliveryType.MANUAL_SERVICE,
    DeliveryType.SAAS_SUPERVISED,
    DeliveryType.LICENSE_IDENTIFIER,
    DeliveryType.LICENSE_OFFLINE,
    DeliveryType.LICENSE_PACKAGE,
}
# [I] per-use (按次) is not a one-time payment either, so it is refused with the others.
MILESTONE_BILLING = {BillingMode.ONE_TIME}


def check_milestone_offer(p: OrderPaidPayload) -> None:
    """Dossier §4.2 (milestone-based payment): one-time billing only, new purchases only, delivery by SaaS,
    License or professional service, and proportions that add up to the whole order."""
    if not p.milestones:
        return
    rule = "a milestone offer (dossier §4.2)"
    if p.product.billing_mode not in MILESTONE_BILLING:
        raise InvalidInput(
            f"{rule} supports one-time billing only; yearly/monthly, pay-per-use and "
            f"pay-per-use packages are not supported (billing mode {p.product.billing_mode.value})",
            field="billing_mode",
        )
    if p.order_type != "new":
        raise InvalidInput(
            f"{rule} applies to new purchases only, not a {p.order_type} order", field="order_type"
        )
    if p.product.delivery_type not in MILESTONE_TYPES:
        raise InvalidInput(
            f"{rule} is for SaaS, License and professional services, not {p.product.delivery_type.value}",
            field="delivery_type",
        )
    total = sum((m.proportion for m in p.milestones), Decimal(0))
    if total != Decimal(1):
        raise InvalidInput(
            f"{rule}: the milestones' proportions must add up to 1 (the whole order), not {total}",
            field="milestones",
        )
    if len({m.milestone_id for m in p.milestones}) != len(p.milestones):
        raise InvalidInput(f"{rule}: milestone ids must be unique", field="milestones")


@dataclass(frozen=True)
class Policy:
    """Durations the domain schedules with (settings make them configurable; tests shrink them)."""

    hardware_auto_accept: timedelta = timedelta(days=10)  # dossier §2.4
    idle: timedelta = timedelta(days=5)  # dossier §5.1
    long_running: timedelta = timedelta(days=180)  # dossier §1.5
    appeal_sla_business_days: int = 3  # dossier §5.3
    appeal_sla_override: timedelta | None = None  # tests: an SLA in seconds instead of business days
    max_rejections: int = 3  # dossier §5.1: "rejected more than 3 times"
    # Working days of the Chinese statutory calendar, make-up weekends (调休) included (shared/workdays).
    calendar: WorkdayCalendar = field(default_factory=WorkdayCalendar)
    # Dossier §1.5, the old rule, kept for legacy orders: those paid before `legacy_paid_before` are closed by
    # the system after `legacy_close` without acceptance. [?] The dossier gives no date for the rule change,
    # so no order is legacy unless a deployment names the date.
    legacy_paid_before: datetime | None = None
    legacy_close: timedelta = timedelta(days=365)

    def legacy(self, paid_at: datetime) -> bool:
        return self.legacy_paid_before is not None and paid_at < self.legacy_paid_before

    def appeal_due(self, raised_at: datetime) -> datetime:
        if self.appeal_sla_override is not None:
            return raised_at + self.appeal_sla_override
        return self.calendar.add_workdays(raised_at, self.appeal_sla_business_days)
