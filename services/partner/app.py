"""Composition root of the partner service."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import FastAPI

from services.partner import api, api_bills, api_merchant, handlers
from services.partner.bill_runs import BillScheduler
from services.partner.calls import RetryTimes
from services.partner.egress import EgressPolicy, guarded_sender
from services.partner.merchant import CallRunner, CallWorker
from services.partner.reads import Reads
from services.partner.selling import Selling
from services.partner.services import PartnerService
from services.partner.settings import PartnerSettings
from services.partner.store import ensure_indexes, mongo_uow
from services.partner.sync import MerchantSync, due_calls
from shared.platform.relay import Lease
from shared.platform.runtime import Runtime, Wire, build_service


def _now() -> datetime:
    return datetime.now(UTC)


def wire_for(settings: PartnerSettings) -> Wire:
    async def wire(rt: Runtime) -> None:
        await ensure_indexes(rt.db)
        uow = rt.uow_factory(mongo_uow)
        rt.provide("partner", PartnerService(uow, _now))
        selling = Selling(uow, settings, _now)
        rt.provide("selling", selling)
        rt.provide("reads", Reads(uow))
        bills = BillScheduler(rt.db, selling, Lease(rt.db, "partner-bill-runs", settings.call_worker_lease_seconds),
                              _now, settings.bill_run_poll_seconds, settings.bill_run_day)
        rt.provide("bill_scheduler", bills)
        rt.spawn(bills.run(), "bill-runs")
        times = RetryTimes(long_interval=settings.long_retry_interval_seconds,
                           long_window=settings.long_retry_window_seconds,
                           short_interval=settings.short_retry_interval_seconds,
                           short_window=settings.short_retry_window_seconds)
        policy = EgressPolicy.from_settings(settings)
        send = guarded_sender(policy, timeout=settings.merchant_call_timeout_seconds,
                              max_bytes=settings.merchant_call_max_response_bytes)
        runner = CallRunner(uow, send, times, _now, settings.merchant_call_window_seconds)
        worker = CallWorker(runner, lambda now: due_calls(rt.db, now),
                            Lease(rt.db, "partner-merchant-calls", settings.call_worker_lease_seconds),
                            settings.call_worker_poll_seconds)
        rt.provide("sync", MerchantSync(uow, _now, worker.wake.set, policy))
        rt.spawn(worker.run(), "merchant-call-worker")
        rt.on_stop(worker.lease.release)
    return wire


def create_app(settings: PartnerSettings | None = None) -> FastAPI:
    settings = settings or PartnerSettings()
    return build_service(settings, title="partner",
                         description="Customer service providers: programme, offers, private links, joint selling, "
                                     "earnings, bills, and the signed merchant sync calls.",
                         register=handlers.register, routers=[api.router, api_bills.router, api_merchant.router],
                         wire=wire_for(settings))
