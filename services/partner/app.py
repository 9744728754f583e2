"""Composition root of the partner service."""

from __future__ import annotations

from fastapi import FastAPI

from services.partner import api, api_bills, api_license, api_merchant, api_open, handlers
from services.partner.bill_runs import BillRuns
from services.partner.calls import RetryTimes
from services.partner.deps import Deps, now
from services.partner.dial_tests import DialTests
from services.partner.egress import EgressPolicy, GuardedSender
from services.partner.merchant import CallRunner, MerchantCalls
from services.partner.queries import PartnerQueries
from services.partner.services import PartnerService
from services.partner.settings import PartnerSettings
from services.partner.store import ensure_indexes, mongo_uow
from shared.platform.collection import MongoCollections
from shared.platform.runtime import Runtime, Wire, build_service
from shared.platform.worker import WorkerSettings


def wire_for(settings: PartnerSettings) -> Wire:
    async def wire(rt: Runtime) -> None:
        await ensure_indexes(rt.db)
        uow = rt.uow_factory(mongo_uow)
        rt.provide("partner", PartnerService(uow, now))
        rt.provide("queries", PartnerQueries(MongoCollections(rt.db)))
        times = RetryTimes(
            long_interval=settings.long_retry_interval_seconds,
            long_window=settings.long_retry_window_seconds,
            short_interval=settings.short_retry_interval_seconds,
            short_window=settings.short_retry_window_seconds,
            poll_interval=settings.instance_poll_interval_seconds,
            poll_window=settings.instance_poll_window_seconds,
        )
        send = GuardedSender(
            EgressPolicy.from_settings(settings),
            timeout=settings.merchant_call_timeout_seconds,
            max_bytes=settings.merchant_call_max_response_bytes,
        )
        rt.on_stop(send.aclose)  # the one client of the service's lifetime
        runner = CallRunner(uow, send, times, now, settings.merchant_call_window_seconds)
        # The background work is two sources of the shared leased worker (one replica at a time, failures
        # recorded per item, reported in /readyz).
        # Merchant calls: one at a time, in due order (a Kit bind's tenant before its app); woken by a new
        # call (an insert into merchant_calls) and nudged after a call is queued or replayed; a call
        # rescheduled for later is found by the poll (`call_worker_poll_seconds`, 1 s). The worker's retries
        # are for processing bugs only (the default backoff, 1 s doubling to 5 minutes: about 15 minutes, then
        # quarantined); a merchant's failures follow the calls' own retry policies.
        every_call = WorkerSettings.from_settings(
            settings, "call_worker", batch=50, max_attempts=10, watch="merchant_calls"
        )
        calls = rt.worker(MerchantCalls(runner), every_call)
        deps = Deps(uow, settings, now, nudge=calls.nudge)
        rt.provide("deps", deps)
        # Dial tests: twice a day (Beijing), each product's test queued once as a merchant call.
        rt.worker(
            DialTests(deps),
            WorkerSettings.from_settings(
                settings, "dial_test", lease_seconds=every_call.lease_seconds, batch=200, max_attempts=5
            ),
        )
        # Bill runs: hourly; a failing period is retried for about a day.
        bills = BillRuns(deps)
        rt.provide("bill_scheduler", bills)
        rt.worker(
            bills,
            WorkerSettings.from_settings(
                settings,
                "bill_run",
                lease_seconds=every_call.lease_seconds,
                batch=2,
                max_attempts=12,
                backoff_seconds=60.0,
                backoff_max_seconds=4 * 3600.0,
            ),
        )

    return wire


def create_app(settings: PartnerSettings | None = None) -> FastAPI:
    settings = settings or PartnerSettings()
    return build_service(
        settings,
        description="Customer service providers: programme, offers, private links, joint selling, "
        "earnings, bills, and the signed merchant sync calls.",
        register=handlers.register,
        routers=[api.router, api_bills.router, api_merchant.router, api_open.router, api_license.router],
        wire=wire_for(settings),
    )
