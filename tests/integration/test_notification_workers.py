"""notification's background work on the real broker and database: the dispatcher and the reminders are shared
leased workers that /readyz reports (a dead one makes the service not ready), and a deadline's clearing read
before its scheduling is parked, handled once the scheduling arrives, and no reminder goes out for it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from devstack.procs import free_port
from services.notification.app import create_app
from services.notification.settings import NotificationSettings
from shared.schemas import (
    AccountRole,
    Event,
)
from tests import factories as f
from tests.conftest import Infra
from tests.helpers import eventually, produce, running

pytestmark = pytest.mark.integration
DISPATCHER, REMINDERS = "worker:dispatcher:notification", "worker:reminders:notification"


def settings(infra: Infra, namespace: str, **extra: Any) -> NotificationSettings:
    # No mail or SMS sink here: nothing in these tests needs one (in-site reminders are written, not sent).
    port = free_port()
    return f.settings(
        NotificationSettings,
        infra,
        namespace,
        smtp_port=port,
        twilio_api_base_url=f"http://127.0.0.1:{port}",
        sms_status_callbacks=False,
        dispatch_poll_seconds=0.1,
        reminder_poll_seconds=0.2,
        **extra,
    )


async def publish(infra: Infra, namespace: str, event: Event) -> None:
    await produce(
        infra.kafka_client(),
        f"{namespace}.{event.topic}",
        event.model_dump_json().encode(),
        key=event.partition_key,
    )


async def readyz(client: httpx.AsyncClient) -> tuple[int, dict[str, Any]]:
    r = await client.get("/readyz")
    return r.status_code, r.json()


async def test_readyz_reports_the_workers_and_a_dead_dispatcher_makes_the_service_not_ready(
    infra: Infra, namespace: str
) -> None:
    app: FastAPI = create_app(settings(infra, namespace))
    async with running(app) as client:

        async def ready() -> dict[str, Any]:
            status, body = await readyz(client)
            return (
                body
                if status == 200 and body["workers"]["dispatcher:notification"]["last_success_at"]
                else {}
            )

        body = await eventually(ready, timeout=60, what="ready, with the dispatcher's first round done")
        assert body["checks"][DISPATCHER] == "ok"
        assert body["checks"][REMINDERS] == "ok"
        assert body["workers"]["dispatcher:notification"]["alive"] is True

        [dispatcher] = [w for w in app.state.runtime.workers if w.name == "dispatcher:notification"]
        dispatcher._task.cancel()  # the worker's task dies (as an escaped error would end it)

        async def not_ready() -> dict[str, Any]:
            status, body = await readyz(client)
            return body if status == 503 else {}

        body = await eventually(not_ready, timeout=30, what="/readyz answering 503")
        assert body["checks"][DISPATCHER] == "dead"
        assert body["checks"][REMINDERS] == "ok"
        assert body["workers"]["dispatcher:notification"]["alive"] is False


async def test_a_clearing_read_before_its_scheduling_is_parked_then_handled_and_nothing_is_reminded(
    infra: Infra, namespace: str
) -> None:
    buyer, merchant = f.rid("buyer"), f.rid("merchant")
    p = f.parties().model_copy(update={"buyer_account_id": buyer, "merchant_account_id": merchant})
    oid, dl, now = f.rid("CS"), f.rid("dl"), datetime.now(UTC)
    # Due in 6 s: without the clearing, the in-site reminder would be written about 1.2 s after the scheduling.
    schedule = f.deadline_scheduled(p, dl, oid, now + timedelta(seconds=6))
    clearing = f.deadline_cleared(p, dl, oid, now + timedelta(milliseconds=1))
    app: FastAPI = create_app(settings(infra, namespace, reminder_fractions=(0.8, 0.6, 0.2)))
    async with running(app):
        db = app.state.runtime.db
        await publish(infra, namespace, f.account_registered(buyer, AccountRole.BUYER))
        await eventually(
            lambda: db["contacts"].find_one({"_id": buyer}), timeout=20, what="the buyer registered"
        )
        await publish(infra, namespace, clearing)
        parked = await eventually(
            lambda: db["parked_events"].find_one({"aggregate": dl}),
            timeout=20,
            what="the clearing parked for its deadline",
        )
        assert "NotYetKnown" in parked["reason"]

        await publish(infra, namespace, schedule)

        async def handled() -> bool:
            return await db["parked_events"].count_documents({"aggregate": dl}) == 0

        await eventually(handled, timeout=20, what="the parked clearing handled once the scheduling arrived")
        [series] = await db["reminders"].find({"deadline_id": dl}).to_list(None)
        assert (series["status"], series["stopped_reason"]) == ("stopped", "acted")

        async def passed() -> bool:  # every step's time, and the deadline itself, have passed
            return datetime.now(UTC) > schedule.payload.due_at + timedelta(seconds=1)

        await eventually(passed, timeout=20, what="the deadline passed")
        assert await db["deliveries"].find({"order_id": oid}).to_list(None) == []
        assert await db["processed_events"].find_one({"_id": f"notification:{clearing.event_id}"}) is not None
