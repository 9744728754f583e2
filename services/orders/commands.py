"""Commands (HTTP bodies) of the orders service: what a caller asks for, validated at the edge."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, EmailStr, Field

from services.orders.catalogue import Specification
from services.orders.progress import AgreedRecord, Rating
from shared.platform.validation import E164Phone
from shared.schemas import BuyerTrack, CouponKind, DeliveryContact, DeliveryType, Milestone, SaleMode


class RegisterAccount(BaseModel):
    """The caller's own profile. Who it is and its role come from its token; the email too when the identity
    provider verified one (then a different `bound_email` here is refused)."""

    display_name: str | None = Field(
        default=None, min_length=1, max_length=128, description="Defaults to the name in the token"
    )
    bound_email: EmailStr | None = Field(
        default=None, description="Only when the token carries no verified email"
    )
    bound_phone: E164Phone = Field(description="International number, stored as E.164 (+8613800001234)")
    locale: Literal["zh-CN", "en-US"] = "zh-CN"


class VerifyProfile(BaseModel):
    """Operations record a buyer's verified enterprise (企业实名认证): company name and sales track."""

    company: str = Field(min_length=1, max_length=256)
    track: BuyerTrack | None = None


class GrantCoupon(BaseModel):
    kind: CouponKind
    amount: Decimal = Field(gt=Decimal(0), max_digits=14, decimal_places=2)


Ids = Annotated[str, Field(min_length=1, max_length=64)]


class ShippingContact(DeliveryContact):
    """Where hardware goes (dossier §2.4), bounded at the edge."""

    name: str = Field(min_length=1, max_length=128)
    phone: E164Phone
    address: str = Field(min_length=1, max_length=512)


class PlaceOrder(BaseModel):
    """A listed product at the catalogue's price, or a provider's signed private link's (with its offer).

    Everything else an order carries comes from the catalogue (product terms, milestones, share ratio), the
    link (provider, offer, discount) or the buyer's verified profile (company, track, coupons): a buyer states
    none of it."""

    product_id: Ids
    spec_id: Ids | None = None
    private_link: str | None = Field(
        default=None, min_length=1, max_length=4096, description="A provider's signed link token"
    )
    coupon_ids: list[Ids] = Field(
        default_factory=list,
        max_length=10,
        description="Coupons from the buyer's own wallet (GET /accounts/me)",
    )
    delivery_contact: ShippingContact | None = None
    order_type: Literal["new", "upgrade"] = Field(
        "new", description="Renewals: POST /purchased-services/{id}/renew"
    )
    original_order_id: Ids | None = Field(default=None, description="The order an upgrade changes")
    quantity: int = Field(
        1, ge=1, le=1000, description="How many of the specification (License codes: one per resource)"
    )


class PayOrder(BaseModel):
    """The payment system confirms a payment it received (its service identity, not the buyer)."""

    payment_id: Ids = Field(
        description="The payment system's transaction id; a repeated confirmation is a no-op"
    )
    amount: Decimal = Field(
        gt=Decimal(0),
        max_digits=14,
        decimal_places=2,
        description="What was paid: must be the order's amount",
    )
    credit: bool = Field(
        False, description="Paid with credit or a credit coupon: billable once repaid (§4.3)"
    )


class CreateProduct(BaseModel):
    product_id: str = Field(
        default_factory=lambda: f"prod-{uuid.uuid4().hex[:12]}", min_length=3, max_length=64
    )
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
    asset_id: str = Field(
        default_factory=lambda: f"asset-{uuid.uuid4().hex[:12]}", min_length=3, max_length=64
    )
    name: str = Field(min_length=1, max_length=256)


class ScanResult(BaseModel):
    passed: bool
    findings: str = Field("", max_length=4000)


class Certify(BaseModel):
    merchant_account_id: str = Field(min_length=1, max_length=64)
    product_id: str = Field(min_length=1, max_length=64)
    score: int = Field(
        ge=0, le=120, description="Joint-operation threshold score; > 60 passes (dossier §9.1)"
    )


class AddFavourite(BaseModel):
    product_id: Ids


class BuyFavourite(BaseModel):
    spec_id: Ids | None = None
    private_link: str | None = Field(default=None, min_length=1, max_length=4096)
    coupon_ids: list[Ids] = Field(default_factory=list, max_length=10)
    delivery_contact: ShippingContact | None = None


class Renew(BaseModel):
    spec_id: Ids | None = Field(default=None, description="Defaults to the specification bought")


class RequestUnsubscribe(BaseModel):
    amount: Decimal | None = Field(
        default=None,
        gt=Decimal(0),
        max_digits=14,
        decimal_places=2,
        description="Refund asked for; defaults to the amount paid",
    )
    reason: str = Field(min_length=1, max_length=2000)
    return_goods: bool = Field(
        False, description="Hardware whose goods were received: they are shipped back first (§1.4)"
    )


class ShipReturn(BaseModel):
    """The buyer shipped the hardware goods of its unsubscribe back (dossier §1.4)."""

    carrier: str = Field(min_length=1, max_length=128)
    tracking_no: str = Field(min_length=1, max_length=128)


class ReturnAcceptance(BaseModel):
    """The merchant's acceptance of returned goods (验收): confirmed, or an exception with its description."""

    accept: bool
    note: str = Field("", max_length=2000)


class Rate(Rating):
    pass


class RefundDecision(BaseModel):
    """The merchant's review of an unsubscribe request (dossier §1.4): agree (同意) with the agreed record
    attached, or reject (驳回) with its reason."""

    approve: bool
    opinion: str = Field("", max_length=2000, description="The review opinion; required to reject")
    agreed_record: AgreedRecord | None = Field(
        default=None,
        description="Required to agree: an evidence file id of the service order, or a document reference",
    )


class MakeMilestoneOffer(BaseModel):
    """A milestone offer to one customer account (dossier §4.2): one specification of one of the merchant's
    listed products, a fixed quantity, the milestones, the validity period."""

    name: str = Field(min_length=1, max_length=128, description="Unique among the merchant's offers")
    buyer_account_id: Ids = Field(description="The one customer account the offer is made to")
    product_id: Ids
    spec_id: Ids | None = Field(default=None, description="Defaults to the product's only specification")
    quantity: int = Field(1, ge=1, le=10_000, description="Fixed: the customer cannot change it")
    amount: Decimal | None = Field(
        default=None,
        gt=Decimal(0),
        max_digits=14,
        decimal_places=2,
        description="The quoted price of the whole quantity; defaults to the spec's price × quantity",
    )
    milestones: list[Milestone] = Field(min_length=1, max_length=20)
    valid_from: AwareDatetime | None = Field(default=None, description="Defaults to now")
    valid_until: AwareDatetime


class RemindSeller(BaseModel):
    """The buyer reminds the merchant (催促) of its order, with an optional word."""

    message: str = Field("", max_length=500)


class RequestInvoice(BaseModel):
    """The buyer asks the merchant for an invoice of a paid order (dossier §6.3 "general-product invoice
    request")."""

    title: str = Field(min_length=1, max_length=256, description="The invoice title (发票抬头)")
    tax_id: str = Field(
        min_length=15, max_length=20, pattern=r"^[0-9A-Z]+$", description="Taxpayer id (纳税人识别号)"
    )
