"""Commands (HTTP bodies) of the orders service: what a caller asks for, validated at the edge."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, EmailStr, Field, model_validator

from services.orders.catalogue import Specification
from services.orders.progress import Rating
from shared.platform.validation import E164Phone
from shared.schemas import (
    AccountRole,
    BuyerTrack,
    Coupon,
    DeliveryContact,
    DeliveryType,
    Milestone,
    ProductSnapshot,
    SaleMode,
)


class RegisterAccount(BaseModel):
    account_id: str = Field(default_factory=lambda: f"acc-{uuid.uuid4().hex[:12]}", min_length=3, max_length=64)
    role: AccountRole
    display_name: str = Field(min_length=1, max_length=128)
    bound_email: EmailStr
    bound_phone: E164Phone = Field(description="International number, stored as E.164 (+8613800001234)")
    locale: Literal["zh-CN", "en-US"] = "zh-CN"


class PlaceOrder(BaseModel):
    """Either a catalogue product (`product_id` + `spec_id`; price and snapshot from the catalogue), or an
    ad-hoc unlisted product given inline (`merchant_account_id`, `product`, `amount`) as before."""

    product_id: str | None = Field(default=None, max_length=64)
    spec_id: str | None = Field(default=None, max_length=64)
    merchant_account_id: str | None = Field(default=None, min_length=1, max_length=64)
    provider_id: str | None = Field(default=None, max_length=64)
    product: ProductSnapshot | None = None
    amount: Decimal | None = Field(default=None, gt=Decimal(0), max_digits=14, decimal_places=2)
    currency: str = Field("CNY", pattern=r"^[A-Z]{3}$")
    private_link: str | None = Field(default=None, max_length=4096, description="A provider's signed link token")
    buyer_company: str | None = Field(default=None, max_length=256)
    buyer_track: BuyerTrack | None = None
    coupons: list[Coupon] = Field(default_factory=list)
    delivery_contact: DeliveryContact | None = None
    milestones: list[Milestone] = Field(default_factory=list)
    order_type: Literal["new", "upgrade"] = Field("new", description="Renewals: POST /purchased-services/{id}/renew")
    original_order_id: str | None = Field(default=None, max_length=64, description="The order an upgrade changes")

    @model_validator(mode="after")
    def _one_form(self) -> PlaceOrder:
        if self.product_id is None and (self.product is None or self.amount is None
                                        or self.merchant_account_id is None):
            raise ValueError("give product_id (+ spec_id), or an inline product with merchant_account_id and amount")
        return self


class PayOrder(BaseModel):
    credit: bool = Field(False, description="Paid with credit or a credit coupon: billable once repaid (§4.3)")


class CreateProduct(BaseModel):
    product_id: str = Field(default_factory=lambda: f"prod-{uuid.uuid4().hex[:12]}", min_length=3, max_length=64)
    name: str = Field(min_length=1, max_length=256)
    delivery_type: DeliveryType
    sale_mode: SaleMode = SaleMode.GENERAL
    specifications: list[Specification] = Field(min_length=1, max_length=50)
    flow_template: str | None = Field(default=None, max_length=64)
    promised_delivery_days: int | None = Field(default=None, ge=1, le=3650)
    acceptance_standard: str | None = Field(default=None, max_length=4000)
    provider_share_ratio: Decimal | None = Field(default=None, ge=0, le=1)
    asset_id: str | None = Field(default=None, max_length=64)


class Review(BaseModel):
    approve: bool
    note: str = Field("", max_length=2000)


class RegisterAsset(BaseModel):
    asset_id: str = Field(default_factory=lambda: f"asset-{uuid.uuid4().hex[:12]}", min_length=3, max_length=64)
    name: str = Field(min_length=1, max_length=256)


class ScanResult(BaseModel):
    passed: bool
    findings: str = Field("", max_length=4000)


class Certify(BaseModel):
    merchant_account_id: str = Field(min_length=1, max_length=64)
    product_id: str = Field(min_length=1, max_length=64)
    score: int = Field(ge=0, le=120, description="Joint-operation threshold score; > 60 passes (dossier §9.1)")


class AddFavourite(BaseModel):
    product_id: str = Field(min_length=1, max_length=64)


class BuyFavourite(BaseModel):
    spec_id: str | None = None
    private_link: str | None = Field(default=None, max_length=4096)
    buyer_company: str | None = Field(default=None, max_length=256)
    delivery_contact: DeliveryContact | None = None


class Renew(BaseModel):
    spec_id: str | None = Field(default=None, description="Defaults to the specification bought")


class RequestUnsubscribe(BaseModel):
    amount: Decimal | None = Field(default=None, gt=Decimal(0), max_digits=14, decimal_places=2,
                                   description="Refund asked for; defaults to the amount paid")
    reason: str = Field(min_length=1, max_length=2000)


class Rate(Rating):
    pass
