"""partner's background work on the shared leased worker (issue 10), with in-memory fakes: the merchant calls and
the bill runs are sources; a call or a period that fails in processing is recorded by the worker and never stops
the others."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from services.partner.bill_runs import BillRuns
from services.partner.billing import Bill
from services.partner.calls import MerchantCall, MerchantEndpoint, Sale
from services.partner.deps import Deps
from services.partner.domain import LedgerEntry
from services.partner.merchant import CallRunner, MerchantCalls
from services.partner.saas import lifecycle_call
from services.partner.settings import PartnerSettings
from services.partner.settlement import generate_bills
from services.partner.store import PartnerUnitOfWork, fake_uow
from shared.platform.fakes import FakeState
from shared.platform.mongo import UnitOfWorkFactory
from shared.platform.worker import ITEMS, Blocked, LeasedWorker, WorkerSettings
from shared.schemas import MerchantCallFailed
from tests.service.rig import FAST
from tests.service.test_partner_calls import KEY, NOW, TIMES, Scripted


class FakeItems:
    """The worker's `worker_items` collection, as far as LeasedWorker uses it."""

    def __init__(self) -> None:
        self.rows: dict[str, dict[str, Any]] = {}

    async def find(self, query: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
        for row in list(self.rows.values()):
            if row.get("worker") == query["worker"]:
                yield row

    async def find_one_and_update(
        self, query: dict[str, Any], update: dict[str, Any], **_: Any
    ) -> dict[str, Any]:
        row = self.rows.get(query["_id"])
        if row is None:
            row = self.rows[query["_id"]] = {"_id": query["_id"], **update.get("$setOnInsert", {})}
        for k, n in update.get("$inc", {}).items():
            row[k] = row.get(k, 0) + n
        row.update(update.get("$set", {}))
        return row

    async def update_one(self, query: dict[str, Any], update: dict[str, Any]) -> None:
        self.rows[query["_id"]].update(update["$set"])

    async def delete_many(self, query: dict[str, Any]) -> None:
        for key in query["_id"]["$in"]:
            row = self.rows.get(key)
            if row is not None and row.get("quarantined_at") is None:
                del self.rows[key]


class FakeDb(dict[str, Any]):
    def __init__(self) -> None:
        super().__init__({ITEMS: FakeItems()})

    @property
    def worker_items(self) -> dict[str, dict[str, Any]]:
        return self[ITEMS].rows  # type: ignore[no-any-return]


def worker(source: Any, db: FakeDb, now: datetime = NOW, **settings: Any) -> LeasedWorker[Any]:
    w: LeasedWorker[Any] = LeasedWorker(db, source, WorkerSettings(**settings), clock=lambda: now)  # type: ignore[arg-type]
    w.holding = True  # the lease is the worker's business, tested with it; here this replica holds it
    return w


# --- merchant calls -------------------------------------------------------------------------------------------


async def queue(state: FakeState, merchant: str, order: str, due: datetime) -> MerchantCall:
    async def work(u: PartnerUnitOfWork) -> MerchantCall:
        if await u.endpoints.get(merchant) is None:
            await u.endpoints.add(
                MerchantEndpoint(
                    merchant_id=merchant,
                    production_url=f"https://{merchant}.example",
                    access_key=KEY,
                    public_key_pem="-",
                )
            )
        sale = Sale(
            order_id=order,
            buyer_id="b1",
            merchant_id=merchant,
            product_id="p1",
            delivery_type="saas_instant",
            sale_mode="general",
        )
        await u.sales.add(sale)
        call = await lifecycle_call(u, sale, "new", None, due)
        await u.commit()
        return call

    return await UnitOfWorkFactory(fake_uow(state)).run(work)


class ByMerchant(Scripted):
    """Each merchant answers its own way (signed); the others answer a signed success."""

    def __init__(self, answers: dict[str, bytes]) -> None:
        super().__init__()
        self.answers, self.hosts = answers, list[str]()

    async def __call__(
        self, url: str, headers: dict[str, str], params: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        host = url.split("//")[1].split(".")[0]
        self.hosts.append(host)
        self.body = self.answers.get(host, b'{"resultCode": "000000", "instanceId": "i-1"}')
        return await super().__call__(url, headers, params, body)


@pytest.mark.parametrize("reply", [b"[]", b"null"])
async def test_a_signed_list_or_null_answer_is_a_recorded_failure_and_the_next_call_is_attempted(
    reply: bytes,
) -> None:
    state, db = FakeState(), FakeDb()
    first = await queue(state, "odd", "CS1", NOW - timedelta(minutes=2))
    second = await queue(state, "fine", "CS2", NOW - timedelta(minutes=1))
    transport = ByMerchant({"odd": reply})
    source = MerchantCalls(CallRunner(UnitOfWorkFactory(fake_uow(state)), transport, TIMES, lambda: NOW))

    await worker(source, db).round()

    assert transport.hosts == ["odd", "fine"]
    calls = {k: MerchantCall.model_validate(v) for k, v in state.tables["merchant_calls"].items()}
    [attempt] = calls[first.call_id].attempts
    assert (attempt.ok, attempt.error) == (False, "bad_response")
    assert "not a JSON object" in attempt.detail
    assert calls[first.call_id].due_at == first.created_at + timedelta(hours=1)  # its own retry policy
    assert calls[second.call_id].status == "succeeded"
    [event] = state.outbox
    assert isinstance(event, MerchantCallFailed)
    assert event.payload.call_id == first.call_id
    assert event.payload.error.startswith("bad_response: ")
    assert db.worker_items == {}  # a merchant's answer is not a processing failure


async def test_a_call_that_fails_in_processing_is_recorded_and_does_not_block_the_others() -> None:
    state, db = FakeState(), FakeDb()
    good = await queue(state, "fine", "CS2", NOW - timedelta(minutes=1))
    broken = {
        **good.model_dump(),
        "call_id": "newInstance:BROKEN",
        "policy": "no-such-policy",
        "due_at": NOW - timedelta(minutes=5),
    }
    state.tables["merchant_calls"]["newInstance:BROKEN"] = broken  # it does not even load
    transport = ByMerchant({})
    source = MerchantCalls(CallRunner(UnitOfWorkFactory(fake_uow(state)), transport, TIMES, lambda: NOW))
    w = worker(source, db, max_attempts=2)

    await w.round()

    assert transport.hosts == ["fine"]
    assert state.tables["merchant_calls"][good.call_id]["status"] == "succeeded"
    item = db.worker_items["merchant-calls:newInstance:BROKEN"]
    assert item["attempts"] == 1
    assert "ValidationError" in item["last_error"]
    assert item["next_try_at"] > NOW  # backing off: not first in line every round

    assert await source.due(NOW, 10, await w._blocked(NOW)) == []
    w.clock = lambda: NOW + timedelta(hours=1)
    await w.round()  # tried again after its backoff, fails again: quarantined, reported, out of the way
    assert db.worker_items["merchant-calls:newInstance:BROKEN"]["quarantined_at"] is not None
    assert not await w.round()  # nothing left to do: the quarantined call is left out
    assert w.health().quarantined == 1


async def test_an_answer_the_database_could_not_store_is_kept_as_text() -> None:
    bson = pytest.importorskip("bson")
    state, db = FakeState(), FakeDb()
    call = await queue(state, "big", "CS1", NOW - timedelta(minutes=1))
    answer = (
        b'{"resultCode": "000000", "instanceId": "i-9", "quota": 1000000000000000000000000000000, '
        b'"$where": 1, "a.b": {"c\\u0000": -99999999999999999999}}'
    )
    source = MerchantCalls(
        CallRunner(UnitOfWorkFactory(fake_uow(state)), ByMerchant({"big": answer}), TIMES, lambda: NOW)
    )

    await worker(source, db).round()

    row = state.tables["merchant_calls"][call.call_id]
    assert row["status"] == "succeeded"
    assert row["result"] == {
        "resultCode": "000000",
        "instanceId": "i-9",
        "quota": "1000000000000000000000000000000",
        "where": 1,
        "a_b": {"c": "-99999999999999999999"},
    }
    bson.encode(row)  # the real repository stores exactly this document
    assert state.tables["sales"]["CS1"]["instance_id"] == "i-9"


# --- bill runs ------------------------------------------------------------------------------------------------


def entry(provider: str, at: datetime) -> dict[str, Any]:
    return LedgerEntry(
        entry_id=f"commission:{provider}",
        provider_id=provider,
        order_id=f"CS-{provider}",
        kind="commission",
        base=Decimal("100.00"),
        ratio=Decimal("0.1"),
        amount=Decimal("10.00"),
        currency="CNY",
        at=at,
    ).model_dump()


class Flaky:
    """Bills as usual, except that one provider's basic bill hits a bug."""

    broken = "P1"

    @classmethod
    async def generate(
        cls, deps: Deps, provider_id: str, month: str | None, quarter: str | None
    ) -> list[Bill]:
        if provider_id == cls.broken and month:
            raise RuntimeError(f"a bug in {provider_id}'s basic bill")
        return await generate_bills(deps, provider_id, month, quarter)


def bill_source(state: FakeState, now: datetime, generate: Any = generate_bills) -> BillRuns:
    settings = PartnerSettings(**FAST)  # type: ignore[arg-type]
    return BillRuns(Deps(UnitOfWorkFactory(fake_uow(state)), settings, lambda: now), generate)


async def test_the_bill_worker_runs_each_due_period_once() -> None:
    state, db, now = FakeState(), FakeDb(), datetime(2026, 4, 3, 1, tzinfo=UTC)
    state.table("ledger").update(
        {
            "commission:P1": entry("P1", datetime(2026, 3, 9, tzinfo=UTC)),
            "commission:P2": entry("P2", datetime(2026, 3, 9, tzinfo=UTC)),
        }
    )
    source = bill_source(state, now)
    w = worker(source, db, now)

    assert await source.due(now, 10, Blocked()) == ["basic:202603", "performance:2026Q1"]
    await w.round()
    await w.round()

    assert sorted(state.tables["bill_runs"]) == ["basic:202603", "performance:2026Q1"]
    assert sorted((b["provider_id"], b["kind"]) for b in state.tables["bills"].values()) == [
        ("P1", "basic"),
        ("P1", "performance"),
        ("P2", "basic"),
        ("P2", "performance"),
    ]
    assert await source.due(now, 10, Blocked()) == []
    assert db.worker_items == {}


async def test_a_failing_providers_bill_neither_stops_the_others_nor_the_other_period() -> None:
    state, db, now = FakeState(), FakeDb(), datetime(2026, 4, 3, 1, tzinfo=UTC)
    state.table("ledger").update(
        {
            "commission:P1": entry("P1", datetime(2026, 3, 9, tzinfo=UTC)),
            "commission:P2": entry("P2", datetime(2026, 3, 9, tzinfo=UTC)),
        }
    )
    source = bill_source(state, now, Flaky.generate)
    w = worker(source, db, now)

    await w.round()

    assert sorted((b["provider_id"], b["kind"]) for b in state.tables["bills"].values()) == [
        ("P1", "performance"),
        ("P2", "basic"),
        ("P2", "performance"),
    ]
    assert list(state.tables["bill_runs"]) == ["performance:2026Q1"]  # the basic run is not done yet
    item = db.worker_items["bill-runs:basic:202603"]
    assert "P1" in item["last_error"]
    assert item["attempts"] == 1

    Flaky.broken = "nobody"  # the bug is fixed; the period's retry bills P1 only (P2's bill exists)
    w.clock = lambda: now + timedelta(hours=1)
    try:
        await w.round()
    finally:
        Flaky.broken = "P1"
    assert sorted(state.tables["bill_runs"]) == ["basic:202603", "performance:2026Q1"]
    assert sum(b["kind"] == "basic" for b in state.tables["bills"].values()) == 2
    assert db.worker_items == {}
