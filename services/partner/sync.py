"""Use cases of the merchant side: a merchant's endpoint, the Kit syncs on the buyer's and its enterprise
admin's actions (dossier §8.1), and the replay of a failed call. A Kit call is queued here and sent by the
call worker (merchant.py), which is nudged at once."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, TypeVar

from services.partner import signing
from services.partner.calls import (
    MerchantCall,
    MerchantEndpoint,
    Sale,
    timestamp_utc8,
    user_batches,
)
from services.partner.deps import Deps
from services.partner.egress import EgressPolicy, Refused
from services.partner.kit import BindIn, DepartmentIn, UsersIn
from services.partner.store import PartnerUnitOfWork
from shared.platform.auth import Principal, require_party
from shared.platform.errors import InvalidInput, NotFound

T = TypeVar("T")
Build = Callable[[Sale, MerchantEndpoint | None], list[tuple[str, dict[str, Any]]]]


def kit_call(endpoint: str, sale: Sale, body: dict[str, Any], now: datetime) -> MerchantCall:
    """§8.1: a Kit sync; the buyer or admin decides about retries, so the policy is manual."""
    body = {
        "instanceId": sale.instance_id or sale.order_id,
        **body,
        "testFlag": 0,
        "timeStamp": timestamp_utc8(now),
    }
    return MerchantCall.of_sale(sale, f"{endpoint}:{uuid.uuid4().hex[:16]}", endpoint, body, "manual", now)


async def _queued(deps: Deps, work: Callable[[PartnerUnitOfWork], Awaitable[T]]) -> T:
    """Run `work`, then wake the call worker: the calls it queued or replayed are sent at once."""
    done = await deps.uow.run(work)
    deps.nudge()
    return done


async def configure(deps: Deps, caller: Principal, endpoint: MerchantEndpoint) -> MerchantEndpoint:
    """A merchant re-points its own endpoint only: later Kit binds encrypt the buyer's client secret to the
    key saved here, so anyone else doing it would receive them."""
    require_party(caller, endpoint.merchant_id, what=f"merchant {endpoint.merchant_id}'s endpoint")
    signing.check_public_key(endpoint.public_key_pem)
    try:  # checked again at each connection (egress.py)
        await EgressPolicy.from_settings(deps.settings).check(endpoint.production_url, deps.resolver)
    except Refused as exc:
        raise InvalidInput(str(exc), field="production_url") from exc

    async def work(uow: PartnerUnitOfWork) -> MerchantEndpoint:
        await uow.endpoints.replace(endpoint)
        await uow.commit()
        return endpoint

    return await deps.uow.run(work)


async def kit(deps: Deps, caller: Principal, order_id: str, build: Build) -> list[MerchantCall]:
    """Queue the Kit calls `build` names for the buyer's order (the worker sends them at once)."""

    async def work(uow: PartnerUnitOfWork) -> list[MerchantCall]:
        sale = await uow.sales.get(order_id)
        if sale is None:
            raise NotFound(f"no SaaS / joint-operation order {order_id}")
        # §8.1: the buyer binds the app and its enterprise admin authorizes users; partner knows the buyer of
        # the order from order.paid.
        require_party(caller, sale.buyer_id, what=f"order {order_id}")
        endpoint = await uow.endpoints.get(sale.merchant_id)
        calls = [kit_call(name, sale, body, deps.clock()) for name, body in build(sale, endpoint)]
        for call in calls:
            await uow.calls.add(call)
        await uow.commit()
        return calls

    return await _queued(deps, work)


async def bind(deps: Deps, caller: Principal, order_id: str, body: BindIn) -> list[MerchantCall]:
    """§8.1: binding the app to an enterprise syncs the tenant, the app and the full org list."""
    tenant, app = body.tenant.wire(), body.app.wire()

    def build(sale: Sale, endpoint: MerchantEndpoint | None) -> list[tuple[str, dict[str, Any]]]:
        encrypted = signing.encrypt_secret(endpoint.public_key_pem, app["clientSecret"]) if endpoint else ""
        orgs = [o.wire() for o in body.orgs]
        return [
            ("tenantSync", {"orderId": order_id, **tenant, "flag": 1}),
            (
                "applicationSync",
                {"tenantId": tenant["tenantId"], **app, "clientSecret": encrypted, "flag": 1},
            ),
            ("allOrgSync", {"tenantId": tenant["tenantId"], "orgInfoList": orgs}),
        ]

    return await kit(deps, caller, order_id, build)


async def users(deps: Deps, caller: Principal, order_id: str, body: UsersIn) -> list[MerchantCall]:
    """§8.1 user-auth sync: at most 500 users per call, so a larger batch is split."""

    def build(sale: Sale, endpoint: MerchantEndpoint | None) -> list[tuple[str, dict[str, Any]]]:
        stamp = deps.clock().strftime("%Y%m%d%H%M%S000")
        batches = user_batches([u.wire() for u in body.users])
        return [
            (
                "authSync",
                {
                    "tenantId": body.tenant_id,
                    "appId": body.app_id,
                    "userList": batch,
                    "currentSyncTime": stamp,
                    "flag": body.flag,
                },
            )
            for batch in batches
        ]

    return await kit(deps, caller, order_id, build)


async def department(deps: Deps, caller: Principal, order_id: str, body: DepartmentIn) -> list[MerchantCall]:
    """§8.1 department sync: a department created, edited or deleted (incremental)."""

    def build(sale: Sale, endpoint: MerchantEndpoint | None) -> list[tuple[str, dict[str, Any]]]:
        return [("singleOrgSync", {"tenantId": body.tenant_id, **body.org.wire(), "flag": body.flag})]

    return await kit(deps, caller, order_id, build)


async def replay(deps: Deps, caller: Principal, call_id: str) -> MerchantCall:
    """Merchant console "重新启动", the buyer / admin choosing to retry a Kit sync, or operations staff."""

    async def work(uow: PartnerUnitOfWork) -> MerchantCall:
        call = await uow.calls.get(call_id)
        if call is None:
            raise NotFound(f"no call {call_id}")
        require_party(
            caller, call.merchant_id, call.buyer_id, what=f"merchant call {call_id}", operators=True
        )
        call.replay(deps.clock())
        await uow.calls.save(call)
        await uow.commit()
        return call

    return await _queued(deps, work)
