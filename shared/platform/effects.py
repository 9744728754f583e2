"""Exactly one effect per `Idempotency-Key`, even when the replica that ran the first attempt died.

The idempotency middleware (idempotency.py) keeps a request's answer once it is sent. A replica killed after
its use case committed but before that answer was kept leaves the key "running"; once the claim's lease runs
out, a retry takes the key over and runs the request again. Without more, that second run would create the
order, the appeal or the refund a second time. So each unit of work a keyed request commits writes an *effect
marker* (`<key>#<n>`, the request's n-th `run`) in the same transaction as its state and outbox, holding the
use case's result (a Pydantic model, or a plain value):

- a retry whose n-th run finds its marker does not run the use case again: it gets the first run's result back
  and answers as the first would have;
- a marker without a result (a use case whose result is neither) is `AlreadyApplied`: a 409 that says the
  effect happened and the answer was lost, never a second effect.
"""

from __future__ import annotations

import importlib
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from shared.platform.errors import DomainError

EFFECTS = "idempotency_effects"
Doc = dict[str, Any]


class AlreadyApplied(DomainError):
    code = "idempotency_key_applied"


@dataclass
class KeyedRequest:
    """The `Idempotency-Key` of the request being handled (a context variable the middleware sets)."""

    ident: str
    taken_over: bool = False  # an earlier attempt with this key stopped before keeping its answer
    runs: int = 0

    def next_marker(self) -> str:
        self.runs += 1
        return f"{self.ident}#{self.runs}"


REQUEST: ContextVar[KeyedRequest | None] = ContextVar("keyed_request", default=None)

_MISSING = object()


async def recall(db: AsyncDatabase[Doc], marker: str) -> Any:
    """The first attempt's result of this run, `_MISSING` if it did not commit; AlreadyApplied if it committed
    and its result was not kept."""
    doc = await db[EFFECTS].find_one({"_id": marker})
    if doc is None:
        return _MISSING
    if "result" not in doc:
        raise AlreadyApplied(
            "the first request with this Idempotency-Key was applied, but its answer was lost "
            "when the service stopped: read the resource to see it"
        )
    module, _, name = str(doc["type"]).partition(":")
    model = getattr(importlib.import_module(module), name) if module else None
    if model is None:
        return doc["result"]
    return model.model_validate(doc["result"])


def missing(value: Any) -> bool:
    return value is _MISSING


async def mark(db: AsyncDatabase[Doc], session: AsyncClientSession, marker: str, result: Any) -> None:
    """In the unit of work's transaction: this keyed run's effect happened, and what it returned."""
    doc: Doc = {"_id": marker, "at": datetime.now(UTC)}
    if isinstance(result, BaseModel):
        kind = type(result)
        doc |= {"result": result.model_dump(mode="json"), "type": f"{kind.__module__}:{kind.__qualname__}"}
    elif result is None or isinstance(result, str | int | float | bool):
        doc |= {"result": result, "type": ""}
    try:
        await db[EFFECTS].insert_one(doc, session=session)
    except DuplicateKeyError as exc:
        raise AlreadyApplied("the first request with this Idempotency-Key was applied already") from exc
