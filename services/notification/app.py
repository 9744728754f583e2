"""Composition root of the notification service."""

from __future__ import annotations

from fastapi import FastAPI

from services.notification import api, api_centre, api_ops, handlers
from services.notification.centre_service import CentreService
from services.notification.dispatcher import Dispatcher
from services.notification.ops import Ops
from services.notification.privacy import PrivacyService
from services.notification.providers import providers
from services.notification.queries import Queries
from services.notification.reminder_service import ReminderService, run_reminders
from services.notification.services import NotificationService
from services.notification.settings import NotificationSettings
from services.notification.store import ensure_indexes, mongo_uow
from shared.platform.relay import Lease
from shared.platform.runtime import Runtime, build_service


def _wire(settings: NotificationSettings):  # type: ignore[no-untyped-def]
    async def wire(rt: Runtime) -> None:
        await ensure_indexes(rt.db)
        email, sms, closers = providers(settings)
        dispatcher = Dispatcher(rt.db, email, sms, settings)
        rt.provide("dispatcher", dispatcher)
        rt.provide("queries", Queries(rt.db))
        uow = rt.uow_factory(mongo_uow)
        rt.provide("notification", NotificationService(uow, dispatcher.nudge))
        rt.provide("centre", CentreService(uow, settings, dispatcher.nudge))
        rt.provide("ops", Ops(rt.db, dispatcher.nudge))
        rt.provide("privacy", PrivacyService(uow))
        rt.provide("notification_settings", settings)
        reminders = ReminderService(uow, dispatcher.nudge, settings.reminder_fractions)
        rt.provide("reminders", reminders)
        rt.spawn(dispatcher.run(), "dispatcher")
        rt.spawn(run_reminders(reminders, Lease(rt.db, "notification-reminders", settings.delivery_lease_seconds),
                               settings.reminder_poll_seconds), "reminders")
        rt.on_stop(dispatcher.drain)
        for close in closers:
            rt.on_stop(close)

    return wire


def create_app(settings: NotificationSettings | None = None) -> FastAPI:
    settings = settings or NotificationSettings()
    return build_service(settings, title="notification",
                         description="Message centre, in-site inbox, email and SMS deliveries with traces.",
                         register=handlers.register, wire=_wire(settings),
                         routers=[api.router, api_centre.router, api_ops.router])
