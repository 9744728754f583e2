"""The usage push use case (dossier §8.2.9): verify the merchant's signature (§8.3), check the records, and
store the new ones for billing with the nonce claimed, in one unit of work."""

from __future__ import annotations

import json
from typing import Any

from services.partner import signing
from services.partner.calls import MerchantEndpoint
from services.partner.deps import Deps
from services.partner.store import PartnerUnitOfWork
from services.partner.usage import (
    CODES,
    DUPLICATE,
    NOT_ON_DEMAND,
    ON_DEMAND,
    STORED,
    Outcome,
    UsageRecord,
    UsageRefused,
    records_of,
)

MAX_BODY = 1024 * 1024  # 1,000 records of a few hundred bytes each fit with room


async def push(
    deps: Deps, merchant_id: str | None, headers: dict[str, str], body: bytes
) -> tuple[int, dict[str, Any]]:
    """The answer to a usage push: HTTP status and `{resultCode, resultMsg, records}`."""
    try:
        outcomes = await _push(deps, merchant_id, headers, body)
    except UsageRefused as refused:
        return refused.status, {"resultCode": refused.code, "resultMsg": refused.detail, "records": []}
    records = [{"recordId": o.record_id, "code": o.code} for o in outcomes]
    return 200, {"resultCode": "MKT.0000", "resultMsg": CODES["MKT.0000"][1], "records": records}


async def _push(deps: Deps, merchant_id: str | None, headers: dict[str, str], body: bytes) -> list[Outcome]:
    if not merchant_id:
        raise UsageRefused("MKT.0150", "x-merchant-id is required")

    async def endpoint_of(uow: PartnerUnitOfWork) -> MerchantEndpoint | None:
        return await uow.endpoints.get(merchant_id)

    endpoint = await deps.uow.run(endpoint_of)
    if endpoint is None:
        raise UsageRefused("MKT.0150", f"merchant {merchant_id} has no access key configured")
    try:  # the same V2 signature partner puts on its own calls (§8.3)
        signing.verify(
            endpoint.access_key, headers, body, window_s=deps.settings.merchant_call_window_seconds
        )
    except signing.BadSignature as exc:
        raise UsageRefused("MKT.0151" if str(exc).startswith("stale") else "MKT.0102", str(exc)) from exc
    if len(body) > MAX_BODY:
        raise UsageRefused("MKT.9003", f"the body exceeds {MAX_BODY} bytes")
    try:
        parsed = json.loads(body)
    except ValueError as exc:
        raise UsageRefused("MKT.0101", "the body is not JSON") from exc
    now = deps.clock()
    records = records_of(parsed, now)

    async def work(uow: PartnerUnitOfWork) -> list[Outcome]:
        if await uow.open_nonces.seen(merchant_id, headers["x-nonce"], now):
            raise UsageRefused("MKT.0151", "replayed: the nonce was used before")
        outcomes: list[Outcome] = []
        seen: set[str] = set()
        for r in records:
            sale = await uow.sales.by_instance(r.instanceId)
            if sale is None or sale.merchant_id != merchant_id:  # another merchant's instance is not found
                raise UsageRefused("MKT.9001", f"instance {r.instanceId} not found")
            key = f"{merchant_id}:{r.recordId}"
            if key in seen or await uow.usage.get(key) is not None:
                outcomes.append(Outcome(r.recordId, DUPLICATE))
                continue
            if sale.billing_mode not in ON_DEMAND:
                outcomes.append(Outcome(r.recordId, NOT_ON_DEMAND))
                continue
            seen.add(key)
            await uow.usage.add(
                UsageRecord(
                    key=key,
                    merchant_id=merchant_id,
                    record_id=r.recordId,
                    instance_id=r.instanceId,
                    order_id=sale.order_id,
                    measure=r.usageMeasureId,
                    value=r.usageValue,
                    begin_time=r.beginTime,
                    end_time=r.endTime,
                    received_at=now,
                )
            )
            outcomes.append(Outcome(r.recordId, STORED))
        await uow.commit()
        return outcomes

    return await deps.uow.run(work)
