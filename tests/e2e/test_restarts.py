"""A crash of any service or a restart of the broker loses nothing and sends nothing twice."""

from __future__ import annotations

import httpx
import pytest

from devstack.stack import Stack
from tests.conftest import Infra
from tests.e2e.journey import Journey
from tests.helpers import eventually
from tests.identity import IdentityProvider


async def test_a_service_killed_before_the_payment_opens_the_service_order_from_its_backlog(
    e2e: Stack, http: httpx.AsyncClient, idp: IdentityProvider
) -> None:
    j = await Journey(e2e, http, idp).setup(provider=False)
    e2e.services["supervision"].kill()  # SIGKILL: no graceful shutdown, no final commit
    await j.buy()
    e2e.start_service("supervision")
    await j.service_order()
    await j.walk_to_acceptance()
    assert (await j.completed())["status"] == "completed"


async def test_a_killed_notification_service_delivers_everything_exactly_once_after_restart(
    e2e: Stack, http: httpx.AsyncClient, idp: IdentityProvider
) -> None:
    j = await Journey(e2e, http, idp).setup(provider=False)
    e2e.services["notification"].kill()
    await j.buy()
    await j.service_order()
    await j.walk_to_acceptance()
    await j.completed()
    e2e.start_service("notification")

    async def all_sent() -> bool:
        log = await j.call(
            "GET",
            "notification",
            f"/accounts/{j.buyer.account_id}/deliveries",
            j.buyer,
            params={"order_id": j.order_id},
        )
        return len(log) == 12 and all(d["status"] == "sent" for d in log)  # 4 messages × 3 channels

    await eventually(all_sent, timeout=60, what="the buyer's twelve deliveries")
    assert len(await j.mail(j.buyer)) == 4
    assert len(await j.sms("+8613811110001")) == 4
    assert sum(j.order_id in m["title"] for m in (await j.inbox(j.buyer))["items"]) == 4


async def test_a_broker_restart_loses_nothing(
    e2e: Stack, infra: Infra, http: httpx.AsyncClient, idp: IdentityProvider
) -> None:
    if infra.stack is None or infra.stack.kafka is None:
        pytest.skip(
            "the broker belongs to an external cluster; only a broker this run started can be restarted"
        )
    kafka = infra.stack.kafka
    j = await Journey(e2e, http, idp).setup()
    await j.become_provider()
    link = await j.private_link()
    kafka.stop()  # SIGTERM: a controlled shutdown, the data directory stays
    await j.buy(
        private_link=link
    )  # the payment commits with its event in the outbox; the relay cannot publish
    assert (await j.order())["status"] == "processing"
    kafka.start(infra.stack.logs)
    await j.service_order(timeout=60)
    await j.walk_to_acceptance()
    await j.completed(timeout=60)

    async def ledger() -> bool:
        body = await j.call("GET", "partner", f"/providers/{j.provider.account_id}/ledger", j.provider)
        return len(body["entries"]) == 1

    await eventually(ledger, timeout=60, what="one commission entry")
    await eventually(lambda: _count(j), timeout=60, what="four emails to the buyer")
    assert len(await j.mail(j.buyer)) == 4


async def _count(j: Journey) -> bool:
    return len(await j.mail(j.buyer)) == 4
