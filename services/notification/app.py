"""Composition root of the notification service."""

from __future__ import annotations

from typing import cast

from fastapi import FastAPI

from services.notification import api, api_centre, api_ops, handlers
from services.notification.deps import Deps
from services.notification.dispatcher import Dispatcher
from services.notification.providers import providers
from services.notification.queries import Queries
from services.notification.reminder_service import ReminderSource
from services.notification.settings import NotificationSettings
from services.notification.store import Deliveries, RateLimits, ensure_indexes, mongo_uow
from shared.platform.collection import MongoCollections
from shared.platform.runtime import Runtime, build_service
from shared.platform.waits import InsertWatch


async def _wire(rt: Runtime) -> None:
    settings = cast(
        NotificationSettings, rt.settings
    )  # the runtime runs on the settings create_app was given
    await ensure_indexes(rt.db)
    email, sms, closers = providers(settings)
    collections = MongoCollections(rt.db)
    # The two background loops are shared leased workers (one replica each, reported in /readyz).
    limits = RateLimits(collections.collection("rate_limits"), settings.rate_limit_window_seconds)
    deliveries = Deliveries(collections.collection("deliveries"))
    dispatcher = Dispatcher(deliveries, limits, email, sms, settings)
    sending = rt.worker(dispatcher, dispatcher.worker_settings())
    # Waiting inbox reads: one change stream of inbox inserts wakes the reads waiting on that account, on
    # every replica; on this one, a commit that gave an account a message wakes its reads at once.
    watch = InsertWatch(
        rt.db,
        "inbox",
        "account_id",
        fallback_seconds=settings.inbox_wait_poll_seconds,
        max_waiters=settings.inbox_max_waiters,
    )
    uow = rt.uow_factory(mongo_uow)
    uow.on_commit(lambda committed: watch.notify_all(committed.inbox.added))
    # A commit that queued a delivery wakes the dispatcher.
    deps = Deps(uow, queued=sending.nudge, settings=settings, parking=rt.parking)
    rt.provide("notification", deps)
    rt.provide("dispatcher", dispatcher)
    rt.provide("queries", Queries(collections))
    rt.provide("inbox_watch", watch)
    rt.waiting_reads("inbox", watch)
    reminders = ReminderSource(deps)
    rt.worker(reminders, reminders.worker_settings())
    rt.on_stop(dispatcher.drain)  # sends under way finish before the provider clients close
    for close in closers:
        rt.on_stop(close)


def create_app(settings: NotificationSettings | None = None) -> FastAPI:
    return build_service(
        settings or NotificationSettings(),
        title="notification",
        description="Message centre, in-site inbox, email and SMS deliveries with traces.",
        register=handlers.register,
        wire=_wire,
        routers=[api.router, api_centre.router, api_ops.router],
    )
