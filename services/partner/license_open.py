"""The open API the merchant's software calls (dossier §2.2.a): activate an authorization code, query it,
report usage (heartbeat); and the License a merchant delivers for an asynchronous getLicense (§2.2.e). No
bearer token: each call is signed with the merchant's access key like the Kit calls (§8.3 V2: x-sign,
x-timestamp, x-nonce over the exact body), the merchant named by `x-merchant-id`; a nonce is accepted once.

[I] §8.3 says the marketplace's own open APIs use Huawei AK/SK signing; the suite has one shared secret per
merchant (its access key, configured with its endpoint), so the open API verifies that, the same way partner
signs its calls to the merchant.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from services.partner import signing
from services.partner.deps import Deps
from services.partner.license import (
    GRACE_DAYS,
    LicenseCode,
    LicenseError,
    LicenseOrder,
    code_id,
    normalise_code,
)
from services.partner.store import PartnerUnitOfWork
from shared.schemas import LicenseActivated, LicenseActivatedPayload, Parties

T = TypeVar("T")
# The open API's own codes (§8.2.9 names these for the usage push; the License APIs' codes are not in the
# dossier, so ours are LIC.*): success, the signature refused, the merchant unknown.
OK = "MKT.0000"
BAD_SIGNATURE = "MKT.0102"
UNKNOWN_MERCHANT = "MKT.0150"
NOT_FOUND = "LIC.0101"


@dataclass(frozen=True)
class Signed:
    """A request as it arrived: who says it sent it, its signature headers, its exact body."""

    merchant_id: str
    headers: dict[str, str]
    body: bytes


async def _key(uow: PartnerUnitOfWork, deps: Deps, req: Signed) -> str:
    """The merchant's access key, once the request is known to be signed with it."""
    endpoint = await uow.endpoints.get(req.merchant_id) if req.merchant_id else None
    if endpoint is None:
        raise LicenseError(UNKNOWN_MERCHANT, "unknown merchant: x-merchant-id names no configured merchant")
    try:
        signing.verify(
            endpoint.access_key, req.headers, req.body, window_s=deps.settings.merchant_call_window_seconds
        )
    except signing.BadSignature as exc:
        raise LicenseError(BAD_SIGNATURE, f"signature refused: {exc}") from exc
    return endpoint.access_key


async def refuse_unless_signed(deps: Deps, req: Signed) -> None:
    """Refuse (401) a request that is not signed by the merchant it names; nothing is remembered."""

    async def check(uow: PartnerUnitOfWork) -> None:
        await _key(uow, deps, req)

    await deps.uow.run(check)


async def _signed(
    deps: Deps, req: Signed, work: Callable[[PartnerUnitOfWork], Awaitable[T]]
) -> tuple[T, str]:
    """Verify the request with the merchant's access key, remember its nonce, then do the work: one unit of
    work. The access key too, so the answer can be signed for the merchant's software."""

    async def checked(uow: PartnerUnitOfWork) -> tuple[T, str]:
        key = await _key(uow, deps, req)
        if await uow.open_nonces.seen(req.merchant_id, req.headers.get("x-nonce", ""), deps.clock()):
            raise LicenseError(BAD_SIGNATURE, "signature refused: replayed: the nonce was used before")
        result = await work(uow)
        await uow.commit()
        return result, key

    return await deps.uow.run(checked)


async def _code(uow: PartnerUnitOfWork, merchant_id: str, typed: str) -> LicenseCode:
    """The merchant's code; another merchant's code is "not found", never "not yours" (no probing)."""
    code = normalise_code(typed)
    found = await uow.licenses.get(code)
    if found is None or found.merchant_id != merchant_id:
        raise LicenseError(
            NOT_FOUND, f"no authorization code {code_id(code)} for this merchant", field="code"
        )
    return found


def view(code: LicenseCode, deps: Deps) -> dict[str, Any]:
    """What the software learns of its code: its state now, its validity, its binding."""
    grace, now = GRACE_DAYS, deps.clock()
    releases = code.releases_at(grace)
    return {
        "codeId": code_id(code.code),
        "orderId": code.order_id,
        "productId": code.product_id,
        "status": code.state(now, grace),
        "activatedAt": code.activated_at.isoformat() if code.activated_at else None,
        "deviceId": code.device_id,
        "validUntil": code.valid_until.isoformat() if code.valid_until else None,
        "releasesAt": releases.isoformat() if releases else None,
        "lastSeenAt": code.last_seen_at.isoformat() if code.last_seen_at else None,
    }


async def activate(
    deps: Deps, req: Signed, typed: str, device_id: str, info: dict[str, str]
) -> tuple[dict[str, Any], str]:
    """Bind the code to the device; the first activation sets the actual activation time and tells
    supervision (license.activated, in the same transaction), which passes the activation node (§2.2.a
    node 3). Activating again from the same device answers as before and tells nobody again."""

    async def work(uow: PartnerUnitOfWork) -> dict[str, Any]:
        code = await _code(uow, req.merchant_id, typed)
        now = deps.clock()
        if code.activate(device_id, info, now, GRACE_DAYS):
            await uow.licenses.save(code)
            uow.emit(activated(code))
        return view(code, deps)

    return await _signed(deps, req, work)


def activated(code: LicenseCode) -> LicenseActivated:
    assert code.activated_at is not None
    assert code.device_id is not None
    return LicenseActivated(
        producer="partner",
        correlation_id=f"license:{code_id(code.code)}:{code.order_id}",
        order_id=code.order_id,
        payload=LicenseActivatedPayload(
            order_id=code.order_id,
            code_id=code_id(code.code),
            activated_at=code.activated_at,
            device_id=code.device_id,
            parties=Parties(buyer_account_id=code.buyer_id, merchant_account_id=code.merchant_id),
        ),
    )


async def query(deps: Deps, req: Signed, typed: str) -> tuple[dict[str, Any], str]:
    """The code's state and validity, for the software to decide whether it runs."""

    async def work(uow: PartnerUnitOfWork) -> dict[str, Any]:
        return view(await _code(uow, req.merchant_id, typed), deps)

    return await _signed(deps, req, work)


async def heartbeat(
    deps: Deps, req: Signed, typed: str, device_id: str, usage: dict[str, str]
) -> tuple[dict[str, Any], str]:
    """The software in use reports (usage statistics / heartbeat): last seen, and the state in the answer."""

    async def work(uow: PartnerUnitOfWork) -> dict[str, Any]:
        code = await _code(uow, req.merchant_id, typed)
        code.heartbeat(device_id, usage, deps.clock(), GRACE_DAYS)
        await uow.licenses.save(code)
        return view(code, deps)

    return await _signed(deps, req, work)


async def deliver(deps: Deps, req: Signed, request_id: str, license: str) -> tuple[dict[str, Any], str]:
    """The merchant's License for an asynchronous getLicense (it answered 000004, processing). Idempotent by
    request id: the first License stays, and the same request always returns it."""

    async def work(uow: PartnerUnitOfWork) -> dict[str, Any]:
        order = await _request(uow, req.merchant_id, request_id)
        call = await uow.calls.get(f"getLicense:{order.order_id}")
        answered = call.result.get("license") if call is not None else None
        first = answered if isinstance(answered, str) and answered else license  # getLicense's own answer
        if order.deliver(first, deps.clock()):
            await uow.license_orders.save(order)
        return {"requestId": request_id, "orderId": order.order_id, "license": order.license}

    return await _signed(deps, req, work)


async def _request(uow: PartnerUnitOfWork, merchant_id: str, request_id: str) -> LicenseOrder:
    order_id = request_id.removeprefix("GL-")
    order = await uow.license_orders.get(order_id) if request_id.startswith("GL-") else None
    if order is None or order.merchant_id != merchant_id or order.request_id != request_id:
        raise LicenseError(
            NOT_FOUND, f"no getLicense request {request_id} for this merchant", field="request_id"
        )
    return order
