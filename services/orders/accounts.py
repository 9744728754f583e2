"""Accounts: each person's marketplace profile, made from its own token. Pure.

Who an account is and what it may do comes from the identity provider: its id is the token's subject and its
role the token's realm role (buyer, merchant, provider or operator). The profile adds what the marketplace
keeps about it: the bound email and phone messages fall back to (dossier §6.1), the locale, and for buyers the
verified profile operations recorded (企业实名认证: company name and sales track) and the coupons the platform
granted. A buyer never states those at order time: the order takes them from here (dossier §3.1, the
acceptance rule depends on them).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import AwareDatetime, BaseModel, Field

from shared.platform.errors import DomainError, InvalidInput
from shared.schemas import (
    AccountErased,
    AccountErasedPayload,
    AccountRegistered,
    AccountRegisteredPayload,
    AccountRole,
    BuyerTrack,
    Coupon,
    CouponKind,
    Money,
)

PRODUCER = "orders"
ERASED = "erased account"


def mask_email(email: str) -> str:
    local, _, domain = email.partition("@")
    return f"{local[:1]}***@{domain}" if domain else "***"


def mask_phone(phone: str) -> str:
    return f"***{phone[-2:]}" if len(phone) > 2 else "***"


class VerifiedProfile(BaseModel):
    """What operations verified about a buyer's enterprise: the full company name (acceptance element 2,
    dossier §3.2) and its sales track (赛道, §3.1)."""

    company: str
    track: BuyerTrack | None = None
    verified_by: str
    verified_at: AwareDatetime


class WalletCoupon(BaseModel):
    """A coupon the platform granted to a buyer (赋能云现金券, 基地云提货券, ...); an order uses it once."""

    coupon_id: str
    kind: CouponKind
    amount: Money
    granted_by: str
    granted_at: AwareDatetime
    used_by_order: str | None = None

    def as_coupon(self) -> Coupon:
        return Coupon(kind=self.kind, amount=self.amount)


class Account(BaseModel):
    account_id: str
    role: AccountRole
    display_name: str
    bound_email: str
    bound_phone: str
    locale: Literal["zh-CN", "en-US"] = "zh-CN"
    created_at: AwareDatetime
    verified: VerifiedProfile | None = None
    coupons: list[WalletCoupon] = Field(default_factory=list)
    erased_at: AwareDatetime | None = None
    version: int = 0

    def registered(self, correlation_id: str) -> AccountRegistered:
        return AccountRegistered(
            producer=PRODUCER,
            correlation_id=correlation_id,
            payload=AccountRegisteredPayload(
                **self.model_dump(
                    include={"account_id", "role", "display_name", "bound_email", "bound_phone", "locale"}
                )
            ),
        )

    def verify(self, company: str, track: BuyerTrack | None, operator: str, now: datetime) -> None:
        if self.role is not AccountRole.BUYER:
            raise DomainError(
                f"account {self.account_id} is a {self.role.value}: only buyers have a verified "
                "company profile",
                field="account_id",
            )
        self.verified = VerifiedProfile(company=company, track=track, verified_by=operator, verified_at=now)

    def grant(self, kind: CouponKind, amount: Money, operator: str, now: datetime) -> WalletCoupon:
        if self.role is not AccountRole.BUYER:
            raise DomainError(
                f"account {self.account_id} is a {self.role.value}: coupons are for buyers",
                field="account_id",
            )
        coupon = WalletCoupon(
            coupon_id=f"CP-{uuid.uuid4().hex[:12]}",
            kind=kind,
            amount=amount,
            granted_by=operator,
            granted_at=now,
        )
        self.coupons.append(coupon)
        return coupon

    def use_coupons(self, coupon_ids: list[str], order_id: str) -> list[Coupon]:
        """The buyer's own unused coupons, now used by `order_id`; any other id is refused by name."""
        chosen = []
        for coupon_id in dict.fromkeys(coupon_ids):
            coupon = next((c for c in self.coupons if c.coupon_id == coupon_id), None)
            if coupon is None:
                raise InvalidInput(f"coupon {coupon_id} is not one of your coupons", field="coupon_ids")
            if coupon.used_by_order is not None:
                raise InvalidInput(
                    f"coupon {coupon_id} was used by order {coupon.used_by_order}", field="coupon_ids"
                )
            coupon.used_by_order = order_id
            chosen.append(coupon.as_coupon())
        return chosen

    def release_coupons(self, order_id: str) -> None:
        """An order cancelled before payment gives its coupons back."""
        for coupon in self.coupons:
            if coupon.used_by_order == order_id:
                coupon.used_by_order = None

    def erase(self, now: datetime, correlation_id: str) -> list[AccountErased]:
        """The owner's erasure request: contact data masked; the account stays (orders still name it)."""
        if self.erased_at is not None:
            return []
        self.bound_email, self.bound_phone = mask_email(self.bound_email), mask_phone(self.bound_phone)
        self.display_name, self.erased_at = ERASED, now
        return [
            AccountErased(
                producer=PRODUCER,
                correlation_id=correlation_id,
                payload=AccountErasedPayload(account_id=self.account_id, role=self.role, erased_at=now),
            )
        ]
