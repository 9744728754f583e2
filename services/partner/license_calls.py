"""What partner tells the merchant about its License 2.0 codes (dossier §2.2.a [R82]: the merchant-side
interfaces of the code product): the validity updated on renewal, the status changed (frozen at expiry,
unfrozen by a renewal within the grace period), the code released (after the grace period, or on
unsubscribe). Each is a durable merchant call attempted by the call worker (merchant.py); the ones that wait
for a time (the freeze at the validity end, the release after the grace period) are calls due then, moved by
a renewal while not yet attempted, as the SaaS expiry call is (saas.expiry_call).

[I] §8.2.8 gives the status change 60 attempts every 2 minutes [R78]; the call worker's policies are the
SaaS ones, so these calls take the "short" policy (for an hour). The path is ours: the dossier names the
interfaces, not their paths.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from services.partner.calls import MerchantCall, timestamp_utc8
from services.partner.license import LicenseCode
from services.partner.store import PartnerUnitOfWork

CODE_PATH = "/license/v2/code"


def _call(codes: list[LicenseCode], call_id: str, activity: str, due: datetime, **extra: Any) -> MerchantCall:
    first = codes[0]
    body: dict[str, Any] = {
        "activity": activity,
        "orderId": first.order_id,
        "codes": [c.code for c in codes],  # the merchant's software already holds them (it activated them)
        "testFlag": "0",
        "timeStamp": timestamp_utc8(due),
        **extra,
    }
    return MerchantCall(
        call_id=call_id,
        merchant_id=first.merchant_id,
        endpoint=activity,
        kind="saas",  # signed in the URL like the SaaS calls (§8.3 V2)
        path=CODE_PATH,
        body=body,
        order_id=first.order_id,
        buyer_id=first.buyer_id,
        policy="short",
        created_at=due,
        due_at=due,
    )


async def _at(uow: PartnerUnitOfWork, call: MerchantCall) -> MerchantCall:
    """Queue the call, or move the same call still waiting (not attempted) to the new time."""
    existing = await uow.calls.get(call.call_id)
    if existing is None:
        await uow.calls.add(call)
        return call
    if existing.status == "pending" and not existing.attempts:
        existing.created_at, existing.due_at, existing.body = call.created_at, call.due_at, call.body
        await uow.calls.save(existing)
    return existing


async def validity_changed(
    uow: PartnerUnitOfWork,
    codes: list[LicenseCode],
    valid_until: datetime,
    was_frozen: bool,
    now: datetime,
    grace_days: int,
) -> list[MerchantCall]:
    """The order's validity end (acceptance or renewal): tell the merchant now, unfreeze if the codes were
    frozen, and (re)schedule the freeze at the new end and the release after the grace period."""
    if not codes:
        return []
    root, stamp = codes[0].order_id, int(valid_until.timestamp())
    until = {"validUntil": valid_until.isoformat()}
    calls = [
        await _at(uow, _call(codes, f"licenseValidity:{root}:{stamp}", "updateLicenseValidity", now, **until))
    ]
    if was_frozen:
        unfreeze = _call(
            codes, f"licenseStatus:{root}:unfreeze:{stamp}", "changeLicenseStatus", now, status="active"
        )
        calls.append(await _at(uow, unfreeze))
    freeze = await uow.calls.get(f"licenseStatus:{root}:freeze")
    freeze_id = f"licenseStatus:{root}:freeze"
    if freeze is not None and (freeze.status != "pending" or freeze.attempts):
        freeze_id = f"{freeze_id}:{stamp}"  # the earlier freeze went: a new one for the new end
    calls.append(await _at(uow, _call(codes, freeze_id, "changeLicenseStatus", valid_until, status="frozen")))
    release_at = valid_until + timedelta(days=grace_days)
    calls.append(await _at(uow, _call(codes, f"licenseRelease:{root}", "releaseLicense", release_at)))
    return calls


async def released(uow: PartnerUnitOfWork, codes: list[LicenseCode], now: datetime) -> MerchantCall | None:
    """Unsubscribed: release now (a release waiting for the grace period's end is moved to now)."""
    if not codes:
        return None
    return await _at(uow, _call(codes, f"licenseRelease:{codes[0].order_id}", "releaseLicense", now))
