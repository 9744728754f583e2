"""The attempt of a merchant call, when due: the signed HTTP call outside any transaction, then its outcome
and merchant_call.failed in one unit of work; and the calls as a source of the shared leased worker. (Calls
are built where they are caused: saas.py for the SaaS lifecycle, sync.py for the Kit syncs.)"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from services.partner import signing
from services.partner.calls import OK_CODES, MerchantCall, RetryTimes, storable
from services.partner.egress import CallFailure, Sender, classify
from services.partner.outcomes import settle
from services.partner.store import PartnerUnitOfWork
from shared.platform.errors import NotFound
from shared.platform.mongo import UnitOfWorkFactory
from shared.platform.worker import Blocked, IdSource

log = logging.getLogger("partner.merchant")


def judge(
    code: int, headers: dict[str, str], body: bytes, access_key: str, window_s: int
) -> tuple[dict[str, Any], CallFailure | None]:
    """The merchant's answer → its result, or the classified failure (§8.2.1: answers are signed by the
    merchant)."""
    if 300 <= code < 400:
        return {}, CallFailure("redirect_refused", f"HTTP {code}: redirects are not followed")
    try:
        signing.verify(access_key, headers, body, window_s=window_s)
    except signing.BadSignature as exc:
        if (
            code >= 400
        ):  # an error page of a proxy or gateway: the status says more than the missing signature
            return {}, CallFailure(
                "http_5xx" if code >= 500 else "http_4xx", f"HTTP {code} (unsigned answer)"
            )
        return {}, CallFailure("bad_signature", f"response rejected: {exc}")
    try:
        result = json.loads(body) if body else {}
    except ValueError:
        return {}, CallFailure("bad_response", f"HTTP {code}: the answer is not JSON")
    if not isinstance(result, dict):
        return {}, CallFailure("bad_response", f"HTTP {code}: the answer is not a JSON object")
    said = (
        f"HTTP {code}: {str(result.get('resultCode'))[:16]} {str(result.get('resultMsg', ''))[:255]}".strip()
    )
    if code >= 400:
        return result, CallFailure("http_5xx" if code >= 500 else "http_4xx", said)
    if code != 200 or str(result.get("resultCode")) not in OK_CODES:
        return result, CallFailure("merchant_error", said)
    return result, None


class CallRunner:
    def __init__(
        self,
        uow: UnitOfWorkFactory[PartnerUnitOfWork],
        send: Sender,
        times: RetryTimes,
        clock: Callable[[], datetime],
        window_s: int = 60,
    ) -> None:
        self.uow, self.send, self.times, self.clock, self.window_s = uow, send, times, clock, window_s

    async def attempt(self, call_id: str) -> MerchantCall:
        async def load(uow: PartnerUnitOfWork) -> tuple[MerchantCall | None, Any]:
            call = await uow.calls.get(call_id)
            endpoint = await uow.endpoints.get(call.merchant_id) if call else None
            if call is not None and call.endpoint != "newInstance" and call.order_id:
                # The instance id the merchant returned may have arrived after the call was queued.
                sale = await uow.sales.get(call.order_id)
                root = await uow.sales.get(sale.root_order_id) if sale else None
                if root is not None and root.instance_id:
                    call.body["instanceId"] = root.instance_id
            return call, endpoint

        call, endpoint = await self.uow.run(load)
        if call is None:
            raise NotFound(f"no call {call_id}")
        if call.status != "pending":
            return call
        tried, replay = len(call.attempts), call.replays > 0
        failure: CallFailure | None = None
        code: int | None = None
        result: dict[str, Any] = {}
        if endpoint is None:
            failure = CallFailure("not_configured", "the merchant has not configured its production endpoint")
        elif call.erased_at is not None:
            failure = CallFailure(
                "contact_data_erased", "the buyer's contact data was erased before it was sent"
            )
        else:
            payload = json.dumps(call.body, separators=(",", ":"), ensure_ascii=False).encode()
            signed = signing.sign_headers(endpoint.access_key, payload)
            headers, params = (
                (signed, {})
                if call.kind == "kit"
                else (
                    {},
                    {
                        "signature": signed["x-sign"],
                        "timestamp": signed["x-timestamp"],
                        "nonce": signed["x-nonce"],
                    },
                )
            )
            try:
                code, rheaders, rbody = await self.send(
                    endpoint.production_url.rstrip("/") + call.path, headers, params, payload
                )
                answer, failure = judge(code, rheaders, rbody, endpoint.access_key, self.window_s)
                result = storable(answer)
            except CallFailure as exc:
                failure = exc
            except (
                Exception
            ) as exc:  # a transport bug: record a failed attempt rather than retry in a tight loop
                log.exception("merchant call %s: unexpected transport failure", call_id)
                failure = CallFailure(classify(exc), "the call failed unexpectedly")
        ok = failure is None or (call.is_dial_test and failure.kind == "merchant_error")

        async def record(uow: PartnerUnitOfWork) -> MerchantCall:
            fresh = await uow.calls.get(call_id)
            assert fresh is not None
            if fresh.status != "pending" or len(fresh.attempts) != tried:
                return fresh  # someone else recorded this attempt
            await settle(uow, fresh, failure, code, result, replay, self.clock(), self.times)
            await uow.calls.save(fresh)
            await uow.commit()
            return fresh

        done = await self.uow.run(record)
        log.info(
            "merchant call %s %s",
            call_id,
            "succeeded" if ok else f"failed: {failure}",
            extra={"order_id": call.order_id},
        )
        return done


@dataclass
class MerchantCalls(IdSource):
    """The merchant calls as a source of the shared leased worker (shared/platform/worker.py): the pending
    calls that are due, earliest first, each attempted once per round.

    What a merchant answers, or not, is the call's own business: the attempt is recorded, its retry policy
    sets the next due time or gives up, and merchant_call.failed is published (dossier §8.2). A call that
    fails in *processing* (raises: it does not load, its outcome cannot be saved) is the worker's: recorded in
    `worker_items`, retried with backoff and quarantined after a few attempts, and never in the way of the
    other calls, so one merchant can no longer stop the calls to all merchants.
    """

    runner: CallRunner
    name = "merchant-calls"

    async def due(self, now: datetime, limit: int, blocked: Blocked) -> list[str]:
        async def load(uow: PartnerUnitOfWork) -> list[str]:
            return await uow.calls.due(now, limit, blocked.all)

        return await self.runner.uow.run(load)

    async def process(self, item: str) -> None:
        await self.runner.attempt(item)
