"""Lists of orders and of products awaiting review (dossier §9.2, §2.1): their filters, their rows and their
pages. Pure.

Pages are keyset pages, newest first: a page ends with an opaque cursor naming the last row's (time, id), and
the next page starts strictly after it. Unlike page numbers, a cursor neither skips nor repeats a row when new
orders arrive between two pages.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Generic, TypeVar

from pydantic import AwareDatetime, BaseModel, ValidationError

from services.orders.catalogue import Product
from services.orders.domain import Order
from shared.platform.errors import InvalidInput
from shared.schemas import DeliveryType, OrderStatus
from shared.schemas.events import OrderType

DEFAULT_LIMIT = 20
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)  # the position of a row without a time
MAX_LIMIT = 100
T = TypeVar("T")


class Position(BaseModel):
    """Where a page ended: the last row's sort time and id (the id breaks ties between equal times)."""

    at: AwareDatetime
    id: str


def encode_cursor(at: datetime, row_id: str) -> str:
    raw = Position(at=at, id=row_id).model_dump_json().encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> Position | None:
    """The position a cursor names; a cursor this service did not write is a 422 naming `cursor`."""
    if cursor is None:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        return Position.model_validate(json.loads(raw))
    except (binascii.Error, ValueError, ValidationError) as exc:
        raise InvalidInput("the cursor is not one this list returned", field="cursor") from exc


class OrderFilter(BaseModel):
    """The filters of an order list; each one given narrows it (dossier §9.2)."""

    status: OrderStatus | None = None
    order_type: OrderType | None = None
    product_id: str | None = None
    order_id: str | None = None
    placed_from: AwareDatetime | None = None  # inclusive
    placed_to: AwareDatetime | None = None  # exclusive

    def check(self) -> None:
        if self.placed_from and self.placed_to and self.placed_to <= self.placed_from:
            raise InvalidInput("placed_to must be after placed_from", field="placed_to")


class OrderRow(BaseModel):
    """One row of an order list: what the seller center shows (order id, product name, amount, status, order
    time, dossier §2.1), and who and what it is about."""

    order_id: str
    order_type: OrderType
    product_id: str
    product_name: str
    spec_name: str | None
    amount: Decimal
    currency: str
    status: OrderStatus
    created_at: AwareDatetime
    paid_at: AwareDatetime | None
    buyer_account_id: str
    merchant_account_id: str
    offer_id: str | None

    @staticmethod
    def of(order: Order) -> OrderRow:
        return OrderRow(
            order_id=order.order_id,
            order_type=order.order_type,
            product_id=order.product.product_id,
            product_name=order.product.name,
            spec_name=order.product.spec_name,
            amount=order.amount,
            currency=order.currency,
            status=order.status,
            created_at=order.created_at,
            paid_at=order.paid_at,
            buyer_account_id=order.buyer_account_id,
            merchant_account_id=order.merchant_account_id,
            offer_id=order.offer_id,
        )


class ReviewFilter(BaseModel):
    """The operators' review queue: products waiting for the listing review (dossier §9.1 step 5)."""

    delivery_type: DeliveryType | None = None
    merchant_account_id: str | None = None


class ReviewRow(BaseModel):
    product_id: str
    name: str
    merchant_account_id: str
    merchant_name: str
    delivery_type: DeliveryType
    # None for a product published before publishing recorded its time: such products come first
    submitted_at: AwareDatetime | None

    @staticmethod
    def of(product: Product) -> ReviewRow:
        return ReviewRow(
            product_id=product.product_id,
            name=product.name,
            merchant_account_id=product.merchant_account_id,
            merchant_name=product.merchant_name,
            delivery_type=product.delivery_type,
            submitted_at=product.submitted_at,
        )


class Page(BaseModel, Generic[T]):
    """One page of a list, and the cursor of the next one (None: this was the last page)."""

    items: list[T]
    next_cursor: str | None = None


def cut(rows: list[T], limit: int) -> tuple[list[T], bool]:
    """The store fetches `limit + 1` rows: the extra one only says whether another page follows."""
    return rows[:limit], len(rows) > limit


def check_limit(limit: int) -> int:
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"limit must be between 1 and {MAX_LIMIT}", field="limit")
    return limit
