"""Milestone offers (里程碑报价, dossier §4.2): a merchant's exclusive offer to one customer account, with the
milestones the customer pays and accepts in stages. Pure.

An offer is made for one listed product of the merchant, with exactly one specification and a fixed quantity
the customer cannot change; its name is unique among the merchant's offers; it is valid for a period, and the
customer may order it only once in that period (the offer is then used and its link invalid). One-time
billing, new purchases only, SaaS, License or professional service only (`milestones_problem`).

An offer moves open → used (its customer ordered it) | withdrawn (its merchant withdrew it). Expiry is not a
state: an open offer past `valid_until` is expired, and ordering it is refused.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from decimal import Decimal
from typing import Literal

from pydantic import AwareDatetime, BaseModel, Field

from services.orders.catalogue import Product, Specification, milestones_problem
from shared.platform.errors import DomainError, Forbidden, InvalidInput
from shared.schemas import DeliveryType, Milestone, Money

OfferStatus = Literal["open", "used", "withdrawn"]
# [I] License 2.0 (authorization code) is accepted automatically at the end of its one pass, so supervision
# cannot loop it per milestone and refuses such an order.paid (services/supervision/rules.py): refused here
# first, so no offer can be made that supervision would dead-letter.
NOT_FOR_OFFERS = {DeliveryType.LICENSE_CODE}


class MilestoneOffer(BaseModel):
    offer_id: str
    merchant_account_id: str
    buyer_account_id: str  # the one customer account the offer is made to (dossier §4.2)
    name: str  # unique among the merchant's offers, shown to the customer
    product_id: str
    spec_id: str
    quantity: int = Field(ge=1)  # fixed: the customer cannot change it
    amount: Money = Field(gt=Decimal(0))  # the quoted price of the whole quantity
    milestones: list[Milestone] = Field(min_length=1)
    valid_from: AwareDatetime
    valid_until: AwareDatetime
    status: OfferStatus = "open"
    created_at: AwareDatetime
    order_id: str | None = None  # the one order placed with it
    used_at: AwareDatetime | None = None
    withdrawn_at: AwareDatetime | None = None
    version: int = 0

    @staticmethod
    def new_id() -> str:
        return f"MO-{secrets.token_hex(6).upper()}"

    @staticmethod
    def check_terms(product: Product, spec: Specification, milestones: list[Milestone]) -> None:
        """What a product and specification must be to carry a milestone offer (dossier §4.2)."""
        if product.status != "listed":
            raise InvalidInput(f"product {product.product_id} is not listed", field="product_id")
        if product.delivery_type in NOT_FOR_OFFERS:
            raise InvalidInput(
                f"{product.delivery_type.value} is accepted in one automatic pass and cannot be delivered in "
                "milestones",
                field="product_id",
            )
        problem = milestones_problem(milestones, spec.billing_mode, "new", product.delivery_type)
        if problem:
            raise InvalidInput(problem, field="milestones")
        if len({m.milestone_id for m in milestones}) != len(milestones):
            raise InvalidInput("milestone ids must be unique", field="milestones")

    def is_party(self, account_id: str) -> bool:
        return account_id in {self.merchant_account_id, self.buyer_account_id}

    def visible_to(self, account_id: str, operator: bool = False) -> None:
        """Its merchant and its customer, and operators; anyone else is refused, as for every resource."""
        if not (operator or self.is_party(account_id)):
            raise Forbidden(
                f"account {account_id} is not a party of milestone offer {self.offer_id}",
                rule="offer_parties_only",
            )

    def expired(self, now: datetime) -> bool:
        return now >= self.valid_until

    def take(self, buyer: str, order_id: str, now: datetime) -> None:
        """Its customer orders it: once, within its validity (dossier §4.2 "the customer can order only
        once"). Another account is refused (403); a used, withdrawn, not yet valid or expired offer is a
        conflict (409)."""
        if buyer != self.buyer_account_id:
            raise Forbidden(
                f"milestone offer {self.offer_id} is made to another customer",
                rule="the_offers_customer_only",
            )
        if self.status != "open":
            raise DomainError(
                f"milestone offer {self.offer_id} is {self.status}; it can be ordered only once",
                field="status",
            )
        if now < self.valid_from:
            raise DomainError(
                f"milestone offer {self.offer_id} is valid from {self.valid_from.isoformat()}",
                field="valid_from",
            )
        if self.expired(now):
            raise DomainError(
                f"milestone offer {self.offer_id} expired at {self.valid_until.isoformat()}",
                field="valid_until",
            )
        self.status, self.order_id, self.used_at = "used", order_id, now

    def withdraw(self, merchant: str, now: datetime) -> None:
        """Its merchant withdraws an offer not ordered yet; withdrawing it again changes nothing."""
        if merchant != self.merchant_account_id:
            raise Forbidden(f"milestone offer {self.offer_id} is another merchant's", rule="own_offers_only")
        if self.status == "withdrawn":
            return
        if self.status == "used":
            raise DomainError(
                f"milestone offer {self.offer_id} was ordered (order {self.order_id}); too late to withdraw",
                field="status",
            )
        self.status, self.withdrawn_at = "withdrawn", now
