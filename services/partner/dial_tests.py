"""Dial tests of the merchants' SaaS interfaces (拨测, dossier §8.2.8): "every morning and afternoon", as a
source of the shared leased worker.

Its items are today's due tests (Beijing time, at the settings' hours): `dial:<product>:<yyyymmdd>:<am|pm>`
for every SaaS product partner sold that still trades. A test is a merchant call like the others (signed,
through the guarded sender, by the call worker) and made once: its id is the slot's, so a restart or a second
replica never tests a slot twice. The call is the harmless one: queryInstance of an instance that does not
exist, with `testFlag` "1" (interface-debug data, §8.2.7) ([I]: the seed does not say which call the dial test
makes). Its result is recorded against the product (outcomes.py), where 5 consecutive failing days freeze
trading (product_health.py)."""

from __future__ import annotations

import logging
from datetime import datetime

from services.partner.calls import SAAS_PATH, MerchantCall, timestamp_utc8
from services.partner.deps import Deps
from services.partner.product_health import dial_slots_due
from services.partner.store import PartnerUnitOfWork
from shared.platform.worker import Blocked, IdSource

log = logging.getLogger("partner.dial_tests")
PROBE_INSTANCE = "dial-test"


def dial_call(product_id: str, merchant_id: str, item: str, now: datetime) -> MerchantCall:
    body = {
        "activity": "queryInstance",
        "instanceId": PROBE_INSTANCE,
        "productId": product_id,
        "testFlag": "1",
        "timeStamp": timestamp_utc8(now),
    }
    return MerchantCall(
        call_id=item,
        merchant_id=merchant_id,
        endpoint="queryInstance",
        kind="saas",
        path=SAAS_PATH,
        body=body,
        policy="manual",
        created_at=now,
        due_at=now,
    )


class DialTests(IdSource):
    name = "dial-tests"

    def __init__(self, deps: Deps) -> None:
        self.deps, self.uow = deps, deps.uow

    async def due(self, now: datetime, limit: int, blocked: Blocked) -> list[str]:
        slots = dial_slots_due(now, self.deps.settings.dial_test_hours)
        if not slots:
            return []

        async def load(uow: PartnerUnitOfWork) -> list[str]:
            wanted = []
            for product_id in await uow.sales.saas_products():
                health = await uow.product_health.get(product_id)
                if health is not None and not health.trading:
                    continue  # frozen or delisted: no longer tested
                for day, slot in slots:
                    item = f"dial:{product_id}:{day:%Y%m%d}:{slot}"
                    if item not in blocked.all and await uow.calls.get(item) is None:
                        wanted.append(item)
            return wanted[:limit]

        return await self.uow.run(load)

    async def process(self, item: str) -> None:
        product_id = item.split(":")[1]

        async def queue(uow: PartnerUnitOfWork) -> None:
            if await uow.calls.get(item) is not None:
                return
            merchant_id = (await uow.sales.saas_products()).get(product_id)
            if merchant_id is None:
                return
            await uow.calls.add(dial_call(product_id, merchant_id, item, self.deps.clock()))
            await uow.commit()

        await self.uow.run(queue)
        self.deps.nudge()
        log.info("dial test %s queued", item)

    async def run_once(self, now: datetime) -> list[str]:
        """Queue the dial tests due at `now` (the worker does this on its schedule; tests call it)."""
        items = await self.due(now, 10_000, Blocked())
        for item in items:
            await self.process(item)
        return items
