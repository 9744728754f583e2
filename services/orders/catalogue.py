"""The catalogue: products, their specifications, the publishing prerequisites and the operator's review, and
the buyer's favourites. Pure.

A product moves draft → pending_review (publish passed its prerequisites) → listed | rejected (an operator
reviewed it, dossier §9.1 step 5). A rejected product can be published again after the merchant fixes it.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Literal

from pydantic import AwareDatetime, BaseModel, Field

from shared.platform.errors import DomainError, Forbidden, InvalidInput
from shared.schemas import BillingMode, DeliveryType, Milestone, Money, ProductSnapshot, SaleMode

LICENSE_TYPES = {
    DeliveryType.LICENSE_CODE,
    DeliveryType.LICENSE_IDENTIFIER,
    DeliveryType.LICENSE_OFFLINE,
    DeliveryType.LICENSE_PACKAGE,
}
JOINT_OP_PASS_SCORE = 60  # joint-op certification: max 120 points, must be > 60 (dossier §9.1)
# frozen / delisted: partner's product.frozen (dossier §8.2.2, §8.2.8; product_holds.py): no new purchase
ProductStatus = Literal["draft", "pending_review", "listed", "rejected", "frozen", "delisted"]
# What an order keeps of the product it sold, besides the specification bought (ProductSnapshot).
SNAPSHOT = {
    "product_id",
    "name",
    "delivery_type",
    "sale_mode",
    "flow_template",
    "provider_share_ratio",
    "promised_delivery_days",
    "acceptance_standard",
    "merchant_name",
}


class Specification(BaseModel):
    """One purchasable specification (规格) with its billing mode and price."""

    spec_id: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=128)
    billing_mode: BillingMode = BillingMode.ONE_TIME
    price: Money = Field(gt=Decimal(0))
    period_months: int | None = Field(default=None, ge=1, le=120)  # periodic billing: one period
    milestones: list[Milestone] = Field(default_factory=list)  # a milestone offer (dossier §4.2)
    # A trial (试用) specification: its validity is this many days, and its buyer gets the trial → commercial
    # reminders (dossier §6.3, §9.2 "转商用"). [?] The dossier gives no trial terms: the merchant sets the
    # length.
    trial_days: int | None = Field(default=None, ge=1, le=365)


class Asset(BaseModel):
    """A software package in the asset centre (资产中心, dossier §9.1 steps 2–3)."""

    asset_id: str
    merchant_account_id: str
    name: str
    released: bool = False
    scan: Literal["pending", "passed", "failed"] = "pending"
    findings: str = ""
    version: int = 0


class Certification(BaseModel):
    """Joint-operation certification (联营认证) of one merchant's product (dossier §9.1)."""

    certification_id: str  # "<merchant>:<product>"
    merchant_account_id: str
    product_id: str
    score: int = Field(ge=0, le=120)
    certified_at: AwareDatetime
    version: int = 0

    @property
    def passed(self) -> bool:
        return self.score > JOINT_OP_PASS_SCORE

    @staticmethod
    def key(merchant: str, product_id: str) -> str:
        return f"{merchant}:{product_id}"


class Favourite(BaseModel):
    """我的收藏 (dossier §9.2): one product a buyer keeps for later."""

    favourite_id: str  # "<buyer>:<product>"
    buyer_account_id: str
    product_id: str
    added_at: AwareDatetime
    version: int = 0

    @staticmethod
    def key(buyer: str, product_id: str) -> str:
        return f"{buyer}:{product_id}"


MILESTONE_TYPES = LICENSE_TYPES | {DeliveryType.MANUAL_SERVICE, DeliveryType.SAAS_SUPERVISED}


def milestones_problem(
    milestones: list[Milestone],
    billing_mode: BillingMode,
    order_type: str,
    delivery_type: DeliveryType | None = None,
) -> str | None:
    """Milestone offers: proportions sum to 1, one-time billing and new purchases only, delivered as SaaS,
    License or professional service (dossier §4.2)."""
    if not milestones:
        return None
    if delivery_type is not None and delivery_type not in MILESTONE_TYPES:
        return (
            f"milestone delivery is for SaaS, License and professional services, not {delivery_type.value} "
            "(dossier §4.2)"
        )
    if sum((m.proportion for m in milestones), Decimal(0)) != Decimal(1):
        return "milestone proportions must sum to 1"
    if billing_mode is not BillingMode.ONE_TIME:
        return (
            f"milestone delivery needs one-time billing, not {billing_mode.value}: yearly/monthly and "
            "pay-per-use are not supported (dossier §4.2)"
        )
    if order_type != "new":
        return f"milestone delivery is for new purchases only, not {order_type} orders (dossier §4.2)"
    return None


class Product(BaseModel):
    product_id: str
    merchant_account_id: str
    merchant_name: str
    name: str
    delivery_type: DeliveryType
    sale_mode: SaleMode = SaleMode.GENERAL
    specifications: list[Specification] = Field(min_length=1)
    flow_template: str | None = None
    promised_delivery_days: int | None = Field(default=None, ge=1)
    acceptance_standard: str | None = None
    provider_share_ratio: Money | None = Field(default=None, ge=0, le=1)
    asset_id: str | None = None  # the released software package of a License product
    status: ProductStatus = "draft"
    review_note: str = ""
    reviewed_by: str | None = None
    listed_at: AwareDatetime | None = None
    submitted_at: AwareDatetime | None = None  # last published for review: the review queue's order
    version: int = 0

    def spec(self, spec_id: str | None) -> Specification:
        if spec_id is None and len(self.specifications) == 1:
            return self.specifications[0]
        for spec in self.specifications:
            if spec.spec_id == spec_id:
                return spec
        raise InvalidInput(f"product {self.product_id} has no specification {spec_id}", field="spec_id")

    def owned_by(self, merchant: str) -> None:
        if merchant != self.merchant_account_id:
            raise Forbidden(
                f"product {self.product_id} belongs to another merchant", rule="own_products_only"
            )

    def publish(
        self,
        merchant: str,
        asset: Asset | None,
        certification: Certification | None,
        now: datetime | None = None,
    ) -> None:
        """Check the documented prerequisites, then wait for the operator's review; refuse with the reason."""
        self.owned_by(merchant)
        if self.status in {"pending_review", "listed"}:
            raise DomainError(f"product {self.product_id} is already {self.status}", field="status")
        if self.delivery_type in LICENSE_TYPES:
            # A License product needs a released asset that passed the security scan (dossier §9.1 steps 2–4).
            if asset is None or asset.merchant_account_id != self.merchant_account_id:
                raise DomainError(
                    "a License product needs its software package in the asset centre (dossier §9.1)",
                    field="asset_id",
                )
            if not asset.released:
                raise DomainError(
                    f"asset {asset.asset_id} is not released in the asset centre (dossier §9.1)",
                    field="asset_id",
                )
            if asset.scan != "passed":
                raise DomainError(
                    f"asset {asset.asset_id} has not passed its security scan ({asset.scan}; dossier §9.1)",
                    field="asset_id",
                )
        if self.sale_mode is SaleMode.JOINT_OPERATION and (certification is None or not certification.passed):
            raise DomainError(
                "a joint-operation product needs its joint-operation certification (联营认证) "
                "first (dossier §9.1)",
                field="sale_mode",
            )
        if self.delivery_type.supervised and not self.flow_template:
            raise DomainError(
                "a supervised product needs a service-flow template (dossier §4.1)", field="flow_template"
            )
        for spec in self.specifications:
            problem = milestones_problem(spec.milestones, spec.billing_mode, "new", self.delivery_type)
            if problem:
                raise DomainError(f"specification {spec.spec_id}: {problem}", field="specifications")
            if (
                spec.billing_mode in {BillingMode.PERIODIC_YEARLY, BillingMode.PERIODIC_MONTHLY}
                and not spec.period_months
            ):
                raise DomainError(
                    f"specification {spec.spec_id}: periodic billing needs period_months",
                    field="specifications",
                )
        self.status, self.review_note, self.submitted_at = "pending_review", "", now

    def review(self, operator: str, approve: bool, note: str, now: datetime) -> None:
        """The platform operator lists or rejects a publication (dossier §9.1 step 5); only operators may
        call this, which the use case checks against the caller's account."""
        if self.status != "pending_review":
            raise DomainError(
                f"product {self.product_id} is {self.status}; only a publication pending review "
                "can be reviewed",
                field="status",
            )
        if not approve and not note.strip():
            raise InvalidInput("a rejection needs a note telling the merchant why", field="note")
        self.status = "listed" if approve else "rejected"
        self.review_note, self.reviewed_by = note, operator
        self.listed_at = now if approve else None

    def snapshot(self, spec: Specification) -> ProductSnapshot:
        """The product as sold, frozen on the order (what supervision and settlement need)."""
        frozen = self.model_dump(include=SNAPSHOT)
        return ProductSnapshot(
            **frozen,
            billing_mode=spec.billing_mode,
            spec_id=spec.spec_id,
            spec_name=spec.name,
            period_months=spec.period_months,
        )
