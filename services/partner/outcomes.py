"""What a merchant call's attempt leads to, in the unit of work that records it (dossier §8.2):
- a new purchase answered `000004` (processing) is followed by queryInstance polling (§8.2.2), which ends when
  the instance is ready, the merchant reports a failure, or the poll window is over;
- a new purchase that finally fails to open is refunded (merchant_call.failed, orders), its buyer is told
  (`activation_failed`, §6.3 101), and it counts against its product (§8.2.2: more than 5 a month delist it);
- an instance released is told to its buyer and merchant (`instance_released`, §8.2.5);
- a dial test's result is recorded against its product (§8.2.8).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from services.partner import product_cases
from services.partner.calls import PROCESSING, MerchantCall, RetryTimes, Sale, timestamp_utc8
from services.partner.egress import CallFailure
from services.partner.notices import notice
from services.partner.store import PartnerUnitOfWork
from shared.schemas import AccountRole, MerchantCallFailed, MerchantCallFailedPayload, NoticeKind, Parties


async def settle(
    uow: PartnerUnitOfWork,
    call: MerchantCall,
    failure: CallFailure | None,
    code: int | None,
    result: dict[str, Any],
    replay: bool,
    now: datetime,
    times: RetryTimes,
) -> None:
    if call.is_dial_test:
        await _dial_tested(uow, call, failure, code, result, replay, now, times)
        return
    answered = str(result.get("resultCode"))
    if failure is None and call.policy == "poll" and answered == PROCESSING:
        if not call.still_processing(now, code or 200, times):
            return
        failure = CallFailure("still_processing", "the instance was still being created when polling ended")
    if failure is None:
        call.succeeded(now, code or 200, result, replay)
        await _opened(uow, call, result, answered, now, times)
        return
    # the merchant said the instance failed: polling ends (§8.2.2); a transport failure is polled again
    give_up = call.policy == "poll" and failure.kind in {"merchant_error", "still_processing"}
    final = call.failed(now, failure.kind, code, replay, times, failure.detail, give_up)
    uow.emit(failed_event(call, final, str(failure), now))
    if final and call.consequence == "refund" and not call.replays and call.order_id:
        await _activation_failed(uow, call, str(failure), now)


async def _opened(
    uow: PartnerUnitOfWork,
    call: MerchantCall,
    result: dict[str, Any],
    answered: str,
    now: datetime,
    times: RetryTimes,
) -> None:
    sale = await uow.sales.get(call.order_id) if call.order_id else None
    if sale is None:
        return
    if call.endpoint in {"newInstance", "queryInstance"} and result.get("instanceId"):
        sale.instance_id = str(result["instanceId"])
        await uow.sales.save(sale)
    if call.endpoint == "newInstance" and answered == PROCESSING:
        await poll_instance(uow, sale, now, times)
    if call.endpoint == "releaseInstance":
        root = await uow.sales.root(sale)
        cause = "expired" if call.call_id.startswith("releaseInstance:lapse:") else "unsubscribed"
        uow.emit(
            notice(
                NoticeKind.INSTANCE_RELEASED,
                f"instance:{root.order_id}:released",
                root.order_id,
                {AccountRole.BUYER: root.buyer_id, AccountRole.MERCHANT: root.merchant_id},
                {
                    "order_id": root.order_id,
                    "product_id": root.product_id,
                    "product": root.product_name or root.product_id,
                    "instance_id": root.instance_id or root.order_id,
                    "cause": cause,
                },
                order_id=root.order_id,
                parties=Parties(buyer_account_id=root.buyer_id, merchant_account_id=root.merchant_id),
            )
        )


async def poll_instance(uow: PartnerUnitOfWork, sale: Sale, now: datetime, times: RetryTimes) -> MerchantCall:
    """§8.2.2 V2: the merchant creates the instance asynchronously (`000004`); KooGallery then calls query
    instance info. One poll call per order, due after the poll interval; its window counts from now."""
    call_id = f"queryInstance:{sale.order_id}"
    if (existing := await uow.calls.get(call_id)) is not None:
        return existing
    body = {
        "activity": "queryInstance",
        "instanceId": sale.instance_id or sale.order_id,
        "orderId": sale.order_id,
        "orderLineId": f"{sale.order_id}-1",
        "testFlag": "0",
        "timeStamp": timestamp_utc8(now),
    }
    call = MerchantCall.of_sale(sale, call_id, "queryInstance", body, "poll", now)
    call.due_at = now + timedelta(seconds=times.poll_interval)
    await uow.calls.add(call)
    return call


async def _activation_failed(uow: PartnerUnitOfWork, call: MerchantCall, error: str, now: datetime) -> None:
    assert call.order_id is not None
    sale = await uow.sales.get(call.order_id)
    if sale is None:
        return
    uow.emit(
        notice(
            NoticeKind.ACTIVATION_FAILED,
            f"order:{sale.order_id}:activation_failed",
            sale.order_id,
            {AccountRole.BUYER: sale.buyer_id},
            {
                "order_id": sale.order_id,
                "product_id": sale.product_id,
                "product": sale.product_name or sale.product_id,
                "reason": error[:200],
            },
            order_id=sale.order_id,
            parties=Parties(buyer_account_id=sale.buyer_id, merchant_account_id=sale.merchant_id),
        )
    )
    await product_cases.order_failed(uow, sale.product_id, sale.merchant_id, sale.order_id, now)


async def _dial_tested(
    uow: PartnerUnitOfWork,
    call: MerchantCall,
    failure: CallFailure | None,
    code: int | None,
    result: dict[str, Any],
    replay: bool,
    now: datetime,
    times: RetryTimes,
) -> None:
    """A dial test passes when the merchant answers, signed, with a result code, whatever the code (the test
    asks about an instance that does not exist); it fails on no answer or an unsigned one."""
    passed = failure is None or failure.kind == "merchant_error"
    if passed:
        call.succeeded(now, code or 200, result, replay)
    else:
        assert failure is not None
        call.failed(now, failure.kind, code, replay, times, failure.detail)
    _, product_id, day, slot = call.call_id.split(":")
    if not passed:  # §8.2.8: a failed dial test is told to the merchant (e-mail, SMS, in-site message)
        uow.emit(
            notice(
                NoticeKind.DIAL_TEST_FAILED,
                call.call_id,
                product_id,
                {AccountRole.MERCHANT: call.merchant_id},
                {
                    "product_id": product_id,
                    "product": product_id,
                    "day": day,
                    "slot": slot,
                    "reason": str(failure)[:200],
                },
            )
        )
    await product_cases.dial_tested(
        uow, product_id, call.merchant_id, datetime.strptime(day, "%Y%m%d").date(), slot, passed, now
    )


def failed_event(call: MerchantCall, final: bool, error: str, now: datetime) -> MerchantCallFailed:
    parties = (
        Parties(buyer_account_id=call.buyer_id, merchant_account_id=call.merchant_id)
        if call.buyer_id
        else None
    )
    return MerchantCallFailed(
        producer="partner",
        correlation_id=call.call_id,
        order_id=call.order_id,
        payload=MerchantCallFailedPayload(
            call_id=call.call_id,
            merchant_account_id=call.merchant_id,
            endpoint=call.endpoint,
            order_id=call.order_id,
            attempt=len(call.attempts),
            final=final,
            consequence=call.consequence if final and not call.replays else "none",
            error=error or "failed",
            failed_at=now,
            parties=parties,
        ),
    )
