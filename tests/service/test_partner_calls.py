"""The merchant call runner with a fake transport: signed requests, verified responses, the retry bookkeeping."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.partner import signing
from services.partner.calls import MerchantCall, MerchantEndpoint, RetryTimes, Sale
from services.partner.egress import CallFailure
from services.partner.merchant import CallRunner
from services.partner.saas import lifecycle_call
from services.partner.store import PartnerUnitOfWork, fake_uow
from shared.platform.fakes import FakeState
from shared.platform.mongo import UnitOfWorkFactory
from shared.schemas import MerchantCallFailed

KEY = "merchant-ak-0001"
NOW = datetime.now(UTC)
TIMES = RetryTimes(long_interval=3600, long_window=3 * 3600, short_interval=600, short_window=3600)


class FakeMerchant:
    """Answers like a merchant: verifies the request, then signs (or not, or badly) its answer."""

    def __init__(self, respond: str = "signed", status: int = 200) -> None:
        self.respond, self.status = respond, status
        self.seen: list[tuple[str, dict[str, str], dict[str, str], dict[str, Any]]] = []

    async def __call__(
        self, url: str, headers: dict[str, str], params: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        signed = headers or {
            "x-sign": params["signature"],
            "x-timestamp": params["timestamp"],
            "x-nonce": params["nonce"],
        }
        signing.verify(KEY, signed, body)  # raises on a bad request signature: the test fails loudly
        self.seen.append((url, headers, params, json.loads(body)))
        raw = json.dumps({"resultCode": "000000", "instanceId": "inst-1"}).encode()
        answer = {
            "signed": signing.sign_headers(KEY, raw),
            "unsigned": {},
            "forged": signing.sign_headers("not-the-key", raw),
        }[self.respond]
        return self.status, answer, raw


async def setup(state: FakeState, order_type: str = "new") -> MerchantCall:
    uow = UnitOfWorkFactory(fake_uow(state))

    async def work(u: PartnerUnitOfWork) -> MerchantCall:
        await u.endpoints.add(
            MerchantEndpoint(
                merchant_id="m1", production_url="https://isv.example", access_key=KEY, public_key_pem="-"
            )
        )
        sale = Sale(
            order_id="CS1",
            buyer_id="b1",
            merchant_id="m1",
            product_id="p1",
            delivery_type="saas_instant",
            sale_mode="general",
            original_order_id=None if order_type == "new" else "CS0",
        )
        await u.sales.add(sale)
        call = await lifecycle_call(u, sale, order_type, sale.original_order_id, NOW)
        await u.commit()
        return call

    return await uow.run(work)


def runner(state: FakeState, merchant: FakeMerchant) -> CallRunner:
    return CallRunner(UnitOfWorkFactory(fake_uow(state)), merchant, TIMES, lambda: NOW)


async def test_a_signed_answer_completes_the_new_purchase_and_records_the_instance() -> None:
    state, merchant = FakeState(), FakeMerchant()
    call = await setup(state)

    done = await runner(state, merchant).attempt(call.call_id)

    assert done.status == "succeeded"
    [(url, headers, params, body)] = merchant.seen
    assert url == "https://isv.example/saas/v2/instance"
    assert headers == {}
    assert set(params) == {"signature", "timestamp", "nonce"}
    assert body["activity"] == "newInstance"
    assert body["orderId"] == "CS1"
    assert state.tables["sales"]["CS1"]["instance_id"] == "inst-1"
    assert state.outbox == []


@pytest.mark.parametrize(("respond", "reason"), [("unsigned", "unsigned"), ("forged", "forged")])
async def test_an_unsigned_or_forged_answer_is_a_failure_and_is_published(respond: str, reason: str) -> None:
    state = FakeState()
    call = await setup(state)

    done = await runner(state, FakeMerchant(respond)).attempt(call.call_id)

    assert done.status == "pending"  # a new purchase is retried hourly
    assert done.due_at == NOW + timedelta(hours=1)
    [event] = state.outbox
    assert isinstance(event, MerchantCallFailed)
    assert reason in event.payload.error
    assert done.attempts[-1].error == "bad_signature"
    assert event.payload.attempt == 1
    assert not event.payload.final


async def test_a_5xx_answer_is_a_failure_even_when_signed() -> None:
    state = FakeState()
    call = await setup(state)

    done = await runner(state, FakeMerchant(status=503)).attempt(call.call_id)

    assert done.attempts[-1].status_code == 503
    assert not done.attempts[-1].ok


@pytest.mark.parametrize(
    ("order_type", "activity", "policy"),
    [
        ("new", "newInstance", "long"),
        ("renewal", "refreshInstance", "short"),
        ("upgrade", "upgrade", "long"),
        ("unsubscribe", "releaseInstance", "short"),
    ],
)
async def test_each_order_type_makes_its_lifecycle_call(order_type: str, activity: str, policy: str) -> None:
    call = await setup(FakeState(), order_type)
    assert (call.endpoint, call.policy, call.body["activity"]) == (activity, policy, activity)
    assert ("instanceId" in call.body) is (order_type != "new")


async def test_kit_calls_are_signed_in_headers() -> None:
    state, merchant = FakeState(), FakeMerchant()
    call = await setup(state)
    kit = call.model_copy(
        update={
            "call_id": "tenantSync:1",
            "kind": "kit",
            "endpoint": "tenantSync",
            "path": "/produceAPI/v2/tenantSync",
            "policy": "manual",
        }
    )
    state.tables["merchant_calls"]["tenantSync:1"] = kit.model_dump()

    await runner(state, merchant).attempt("tenantSync:1")

    [(url, headers, params, _)] = merchant.seen
    assert url.endswith("/produceAPI/v2/tenantSync")
    assert set(headers) == {"x-sign", "x-timestamp", "x-nonce"}
    assert params == {}


class Scripted:
    """A transport that answers as told: a status with a (signed or unsigned) body, or a transport failure."""

    def __init__(
        self,
        status: int = 200,
        body: bytes = b'{"resultCode": "000000"}',
        signed: bool = True,
        failure: CallFailure | None = None,
    ) -> None:
        self.status, self.body, self.signed, self.failure = status, body, signed, failure
        self.sent = 0

    async def __call__(
        self, url: str, headers: dict[str, str], params: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        self.sent += 1
        if self.failure is not None:
            raise self.failure
        return self.status, signing.sign_headers(KEY, self.body) if self.signed else {}, self.body


@pytest.mark.parametrize(
    ("transport", "kind"),
    [
        (Scripted(failure=CallFailure("timeout", "no complete answer within 5 s")), "timeout"),
        (
            Scripted(failure=CallFailure("connection_refused", "the endpoint refused the connection")),
            "connection_refused",
        ),
        (Scripted(failure=CallFailure("tls_error", "the TLS handshake failed")), "tls_error"),
        (
            Scripted(failure=CallFailure("blocked_address", "isv.example resolves to a loopback address")),
            "blocked_address",
        ),
        (
            Scripted(failure=CallFailure("response_too_large", "the answer exceeds 65536 bytes")),
            "response_too_large",
        ),
        (Scripted(status=302, signed=False, body=b""), "redirect_refused"),
        (Scripted(status=503), "http_5xx"),
        (Scripted(status=502, signed=False, body=b"<html>Bad Gateway</html>"), "http_5xx"),
        (Scripted(status=404), "http_4xx"),
        (Scripted(signed=False), "bad_signature"),
        (Scripted(body=b"not json"), "bad_response"),
        (Scripted(body=b"[]"), "bad_response"),  # signed, but not an object (issue 10)
        (Scripted(body=b"null"), "bad_response"),
        (Scripted(body=b'{"resultCode": "000005", "resultMsg": "quota exceeded"}'), "merchant_error"),
    ],
    ids=lambda x: x if isinstance(x, str) else "",
)
async def test_each_failure_is_recorded_and_published_with_its_class(transport: Scripted, kind: str) -> None:
    state = FakeState()
    call = await setup(state)

    done = await CallRunner(UnitOfWorkFactory(fake_uow(state)), transport, TIMES, lambda: NOW).attempt(
        call.call_id
    )

    [attempt] = done.attempts
    assert not attempt.ok
    assert attempt.error == kind
    assert "Traceback" not in attempt.detail
    [event] = state.outbox
    assert isinstance(event, MerchantCallFailed)
    assert event.payload.error.startswith(f"{kind}: ")


async def test_an_unexpected_transport_error_is_a_recorded_failure_not_a_crash() -> None:
    async def broken(
        url: str, headers: dict[str, str], params: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        raise RuntimeError("secret internal detail 10.0.0.7:5432")

    state = FakeState()
    call = await setup(state)

    done = await CallRunner(UnitOfWorkFactory(fake_uow(state)), broken, TIMES, lambda: NOW).attempt(
        call.call_id
    )

    assert done.attempts[-1].error == "connection_failed"
    assert "10.0.0.7" not in done.attempts[-1].detail
    assert done.status == "pending"  # retried by the long policy, not in a tight loop


async def test_a_pending_kit_call_whose_contact_data_was_erased_is_never_sent() -> None:
    state = FakeState()
    call = await setup(state)
    kit = call.model_copy(
        update={
            "call_id": "authSync:1",
            "kind": "kit",
            "endpoint": "authSync",
            "path": "/produceAPI/v2/authSync",
            "policy": "manual",
            "erased_at": NOW,
        }
    )
    state.tables["merchant_calls"]["authSync:1"] = kit.model_dump()
    transport = Scripted()

    done = await CallRunner(UnitOfWorkFactory(fake_uow(state)), transport, TIMES, lambda: NOW).attempt(
        "authSync:1"
    )

    assert transport.sent == 0
    assert done.status == "failed"
    assert done.attempts[-1].error == "contact_data_erased"
