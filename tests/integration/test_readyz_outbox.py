"""/readyz tells how many outbox rows are not published yet (the chaos harness checks every outbox drained): a
backlog is reported, not a readiness failure."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pymongo import AsyncMongoClient

from services.orders.app import create_app as orders_app
from services.orders.settings import OrdersSettings
from shared.platform.mongo import OUTBOX, Doc, connect
from tests import factories as f
from tests.conftest import Infra
from tests.helpers import eventually, running


async def test_readyz_reports_the_unpublished_outbox_rows(infra: Infra, namespace: str) -> None:
    settings = f.settings(OrdersSettings, infra, namespace)
    client: AsyncMongoClient[Doc] = connect(infra.mongo_uri)
    try:
        async with running(orders_app(settings)) as orders:

            async def drained() -> dict[str, Any] | None:
                body: dict[str, Any] = (await orders.get("/readyz")).json()
                return body if body["outbox"]["pending"] == 0 else None

            assert (await eventually(drained, what="an empty outbox"))["ready"] is True
            # A row the broker will never take (a topic that does not exist): it stays unpublished.
            await client[settings.database][OUTBOX].insert_one(
                {
                    "_id": "stuck-row",
                    "seq": 1,
                    "topic": "no.such.topic",
                    "key": "k",
                    "event_type": "none",
                    "body": "{}",
                    "created_at": datetime.now(UTC),
                    "published_at": None,
                }
            )
            resp = await orders.get("/readyz")
            assert resp.status_code == 200, resp.text  # a backlog is not unreadiness
            assert resp.json()["outbox"] == {"pending": 1}
    finally:
        await client.close()
