"""Use cases of the merchant side: endpoint configuration, Kit syncs on the buyer's and admin's actions,
retry / replay, and the console's figures."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import datetime
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from services.partner import signing
from services.partner.calls import MerchantCall, MerchantEndpoint, user_batches
from services.partner.merchant import kit_call
from services.partner.store import PartnerUnitOfWork
from shared.platform.errors import Forbidden, NotFound
from shared.platform.mongo import Doc, UnitOfWorkFactory


class MerchantSync:
    def __init__(self, uow: UnitOfWorkFactory[PartnerUnitOfWork], clock: Callable[[], datetime],
                 nudge: Callable[[], None] = lambda: None) -> None:
        self.uow, self.clock, self.nudge = uow, clock, nudge

    async def configure(self, caller: str, endpoint: MerchantEndpoint) -> MerchantEndpoint:
        if caller != endpoint.merchant_id:
            raise Forbidden("a merchant configures its own endpoints")
        signing.check_public_key(endpoint.public_key_pem)

        async def work(uow: PartnerUnitOfWork) -> MerchantEndpoint:
            old = await uow.endpoints.get(endpoint.merchant_id)
            endpoint.version = old.version if old else 0
            await uow.upsert(uow.endpoints, endpoint)
            await uow.commit()
            return endpoint
        return await self.uow.run(work)

    async def kit(self, caller: str, order_id: str, build: Callable[[Any, MerchantEndpoint | None],
                                                                     list[tuple[str, dict[str, Any]]]]
                  ) -> list[MerchantCall]:
        """Queue the Kit calls `build` names for the buyer's order (the worker sends them at once)."""
        async def work(uow: PartnerUnitOfWork) -> list[MerchantCall]:
            sale = await uow.sales.get(order_id)
            if sale is None:
                raise NotFound(f"no SaaS / joint-operation order {order_id}")
            if sale.buyer_id != caller:
                raise Forbidden("only the order's buyer (or its enterprise admin) triggers these syncs")
            endpoint = await uow.endpoints.get(sale.merchant_id)
            calls = [kit_call(name, sale, body, self.clock()) for name, body in build(sale, endpoint)]
            for call in calls:
                await uow.calls.add(call)
            await uow.commit()
            return calls
        calls = await self.uow.run(work)
        self.nudge()
        return calls

    async def bind(self, caller: str, order_id: str, tenant: dict[str, Any], app: dict[str, Any],
                   orgs: list[dict[str, Any]]) -> list[MerchantCall]:
        """§8.1: binding the app to an enterprise syncs the tenant, the app and the full org list."""
        def build(sale: Any, endpoint: MerchantEndpoint | None) -> list[tuple[str, dict[str, Any]]]:
            secret = app["clientSecret"]
            encrypted = signing.encrypt_secret(endpoint.public_key_pem, secret) if endpoint else ""
            return [("tenantSync", {"orderId": order_id, **tenant, "flag": 1}),
                    ("applicationSync", {"tenantId": tenant["tenantId"], **app, "clientSecret": encrypted,
                                         "flag": 1}),
                    ("allOrgSync", {"tenantId": tenant["tenantId"], "orgInfoList": orgs})]
        return await self.kit(caller, order_id, build)

    async def users(self, caller: str, order_id: str, tenant_id: str, app_id: str, users: list[dict[str, Any]],
                    flag: int) -> list[MerchantCall]:
        """§8.1 user-auth sync: at most 500 users per call, so a larger batch is split."""
        def build(sale: Any, endpoint: MerchantEndpoint | None) -> list[tuple[str, dict[str, Any]]]:
            stamp = self.clock().strftime("%Y%m%d%H%M%S000")
            return [("authSync", {"tenantId": tenant_id, "appId": app_id, "userList": batch,
                                  "currentSyncTime": stamp, "flag": flag}) for batch in user_batches(users)]
        return await self.kit(caller, order_id, build)

    async def department(self, caller: str, order_id: str, tenant_id: str, org: dict[str, Any],
                         flag: int) -> list[MerchantCall]:
        def build(sale: Any, endpoint: MerchantEndpoint | None) -> list[tuple[str, dict[str, Any]]]:
            return [("singleOrgSync", {"tenantId": tenant_id, **org, "flag": flag})]
        return await self.kit(caller, order_id, build)

    async def replay(self, caller: str, call_id: str) -> MerchantCall:
        """Merchant console "重新启动", or the buyer / admin choosing to retry a Kit sync."""
        async def work(uow: PartnerUnitOfWork) -> MerchantCall:
            call = await uow.calls.get(call_id)
            if call is None or caller not in {call.merchant_id, call.buyer_id}:
                raise NotFound(f"no call {call_id} of this account")
            call.replay(self.clock())
            await uow.calls.save(call)
            await uow.commit()
            return call
        call = await self.uow.run(work)
        self.nudge()
        return call


async def console(db: AsyncDatabase[Doc], merchant_id: str, recent: int = 20) -> dict[str, Any]:
    """Per endpoint: calls, attempts, failed attempts, success rate (of attempts) and the recent calls."""
    docs = await db["merchant_calls"].find({"merchant_id": merchant_id}).sort("created_at", -1).to_list(None)
    calls = [MerchantCall.model_validate(d) for d in docs]
    by: dict[str, list[MerchantCall]] = defaultdict(list)
    for c in calls:
        by[c.endpoint].append(c)
    out = {}
    for name, group in sorted(by.items()):
        attempts = [a for c in group for a in c.attempts]
        ok = sum(a.ok for a in attempts)
        out[name] = {"calls": len(group), "attempts": len(attempts), "failures": len(attempts) - ok,
                     "success_rate": round(ok / len(attempts), 4) if attempts else None,
                     "recent": [c.model_dump(mode="json", exclude={"body"}) for c in group[:recent]]}
    return {"merchant_id": merchant_id, "endpoints": out}


async def due_calls(db: AsyncDatabase[Doc], now: datetime, limit: int = 50) -> list[str]:
    docs = await db["merchant_calls"].find({"status": "pending", "due_at": {"$lte": now}}, {"_id": 1}
                                           ).sort("due_at", 1).to_list(limit)
    return [str(d["_id"]) for d in docs]
