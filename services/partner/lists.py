"""The lists of offers and demands (issue 15, dossier §7.5): their filters, rows and keyset pages. Pure.

A page is newest first; it ends with an opaque cursor naming its last row's (creation time, id), and the next
page starts strictly after it, so a row is neither skipped nor repeated when new ones arrive between pages.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import UTC, datetime
from typing import Generic, Literal, TypeVar

from pydantic import AwareDatetime, BaseModel, ValidationError

from shared.platform.errors import InvalidInput

DEFAULT_LIMIT = 20
MAX_LIMIT = 100
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)  # the creation time of an offer or demand saved before it had one
# dossier §7.5: an offer takes effect or goes to manual handling (转人工处理); from there an operator's
# special approval makes it effective, or it is rejected, or its issuer withdraws it.
OfferStatus = Literal["effective", "manual_handling", "rejected", "withdrawn"]
DemandStatus = Literal["submitted", "offered", "won"]  # §7.5 joint selling: filed, answered, 需求成交
T = TypeVar("T")


class Position(BaseModel):
    """Where a page ended: the last row's creation time and id (the id breaks ties between equal times)."""

    at: AwareDatetime
    id: str


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = None


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


def check_limit(limit: int) -> None:
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"limit must be 1..{MAX_LIMIT}", field="limit")


def after(position: Position | None, id_field: str) -> list[dict[str, object]]:
    """The rows strictly after `position` in (created_at, id) descending order, as a query's `$or`."""
    if position is None:
        return []
    if position.at > EPOCH:
        return [
            {"created_at": {"$lt": position.at}},
            {"created_at": position.at, id_field: {"$lt": position.id}},
            # rows saved before they had a creation time (none stored: EPOCH, the oldest) come after every
            # dated row; `$lt` on a date never matches a missing field, so they are named
            {"created_at": None},
        ]
    return [  # a page that ended among the undated rows: the rest of them, by id
        {"created_at": None, id_field: {"$lt": position.id}},
        {"created_at": EPOCH, id_field: {"$lt": position.id}},
    ]
