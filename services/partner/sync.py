"""Use cases of the merchant side: endpoint configuration, Kit syncs on the buyer's and admin's actions,
retry / replay, and the console's figures."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import datetime
from typing import Any

from services.partner import signing
from services.partner.calls import MerchantCall, MerchantEndpoint, Sale, user_batches
from services.partner.egress import EgressPolicy, Refused, Resolver, resolve
from services.partner.kit import BindIn, DepartmentIn, UsersIn
from services.partner.merchant import kit_call
from services.partner.store import PartnerUnitOfWork
from shared.platform.auth import Principal, require_party
from shared.platform.errors import InvalidInput, NotFound
from shared.platform.mongo import UnitOfWorkFactory

Build = Callable[[Sale, MerchantEndpoint | None], list[tuple[str, dict[str, Any]]]]


class MerchantSync:
    def __init__(self, uow: UnitOfWorkFactory[PartnerUnitOfWork], clock: Callable[[], datetime],
                 nudge: Callable[[], None] = lambda: None, policy: EgressPolicy | None = None,
                 resolver: Resolver = resolve) -> None:
        self.uow, self.clock, self.nudge = uow, clock, nudge
        self.policy, self.resolver = policy or EgressPolicy(), resolver

    async def configure(self, caller: Principal, endpoint: MerchantEndpoint) -> MerchantEndpoint:
        """A merchant re-points its own endpoint only: later Kit binds encrypt the buyer's client secret to the
        key saved here, so anyone else doing it would receive them."""
        require_party(caller, endpoint.merchant_id, what=f"merchant {endpoint.merchant_id}'s endpoint")
        signing.check_public_key(endpoint.public_key_pem)
        try:
            await self.policy.check(endpoint.production_url, self.resolver)  # checked again at each connection
        except Refused as exc:
            raise InvalidInput(str(exc), field="production_url") from exc

        async def work(uow: PartnerUnitOfWork) -> MerchantEndpoint:
            old = await uow.endpoints.get(endpoint.merchant_id)
            endpoint.version = old.version if old else 0
            await uow.upsert(uow.endpoints, endpoint)
            await uow.commit()
            return endpoint
        return await self.uow.run(work)

    async def kit(self, caller: Principal, order_id: str, build: Build) -> list[MerchantCall]:
        """Queue the Kit calls `build` names for the buyer's order (the worker sends them at once)."""
        async def work(uow: PartnerUnitOfWork) -> list[MerchantCall]:
            sale = await uow.sales.get(order_id)
            if sale is None:
                raise NotFound(f"no SaaS / joint-operation order {order_id}")
            # §8.1: the buyer binds the app and its enterprise admin authorizes users; partner knows the buyer of
            # the order from order.paid.
            require_party(caller, sale.buyer_id, what=f"order {order_id}")
            endpoint = await uow.endpoints.get(sale.merchant_id)
            calls = [kit_call(name, sale, body, self.clock()) for name, body in build(sale, endpoint)]
            for call in calls:
                await uow.calls.add(call)
            await uow.commit()
            return calls
        calls = await self.uow.run(work)
        self.nudge()
        return calls

    async def bind(self, caller: Principal, order_id: str, body: BindIn) -> list[MerchantCall]:
        """§8.1: binding the app to an enterprise syncs the tenant, the app and the full org list."""
        tenant, app = body.tenant.wire(), body.app.wire()

        def build(sale: Sale, endpoint: MerchantEndpoint | None) -> list[tuple[str, dict[str, Any]]]:
            encrypted = signing.encrypt_secret(endpoint.public_key_pem, app["clientSecret"]) if endpoint else ""
            return [("tenantSync", {"orderId": order_id, **tenant, "flag": 1}),
                    ("applicationSync", {"tenantId": tenant["tenantId"], **app, "clientSecret": encrypted,
                                         "flag": 1}),
                    ("allOrgSync", {"tenantId": tenant["tenantId"], "orgInfoList": [o.wire() for o in body.orgs]})]
        return await self.kit(caller, order_id, build)

    async def users(self, caller: Principal, order_id: str, body: UsersIn) -> list[MerchantCall]:
        """§8.1 user-auth sync: at most 500 users per call, so a larger batch is split."""
        def build(sale: Sale, endpoint: MerchantEndpoint | None) -> list[tuple[str, dict[str, Any]]]:
            stamp = self.clock().strftime("%Y%m%d%H%M%S000")
            users = [u.wire() for u in body.users]
            return [("authSync", {"tenantId": body.tenant_id, "appId": body.app_id, "userList": batch,
                                  "currentSyncTime": stamp, "flag": body.flag}) for batch in user_batches(users)]
        return await self.kit(caller, order_id, build)

    async def department(self, caller: Principal, order_id: str, body: DepartmentIn) -> list[MerchantCall]:
        def build(sale: Sale, endpoint: MerchantEndpoint | None) -> list[tuple[str, dict[str, Any]]]:
            return [("singleOrgSync", {"tenantId": body.tenant_id, **body.org.wire(), "flag": body.flag})]
        return await self.kit(caller, order_id, build)

    async def replay(self, caller: Principal, call_id: str) -> MerchantCall:
        """Merchant console "重新启动", the buyer / admin choosing to retry a Kit sync, or operations staff."""
        async def work(uow: PartnerUnitOfWork) -> MerchantCall:
            call = await uow.calls.get(call_id)
            if call is None:
                raise NotFound(f"no call {call_id}")
            require_party(caller, call.merchant_id, call.buyer_id, what=f"merchant call {call_id}", operators=True)
            call.replay(self.clock())
            await uow.calls.save(call)
            await uow.commit()
            return call
        call = await self.uow.run(work)
        self.nudge()
        return call

    async def console(self, caller: Principal, merchant_id: str, recent: int = 20) -> dict[str, Any]:
        """Per endpoint: calls, attempts, failed attempts, success rate (of attempts) and the recent calls."""
        require_party(caller, merchant_id, what=f"merchant {merchant_id}'s console")

        async def load(uow: PartnerUnitOfWork) -> list[MerchantCall]:
            return await uow.lists.calls_of(merchant_id)
        by: dict[str, list[MerchantCall]] = defaultdict(list)
        for c in await self.uow.run(load):
            by[c.endpoint].append(c)
        out = {}
        for name, group in sorted(by.items()):
            attempts = [a for c in group for a in c.attempts]
            ok = sum(a.ok for a in attempts)
            out[name] = {"calls": len(group), "attempts": len(attempts), "failures": len(attempts) - ok,
                         "success_rate": round(ok / len(attempts), 4) if attempts else None,
                         "recent": [c.model_dump(mode="json", exclude={"body"}) for c in group[:recent]]}
        return {"merchant_id": merchant_id, "endpoints": out}

