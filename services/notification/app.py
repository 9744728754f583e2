"""Composition root of the notification service."""

from __future__ import annotations

from fastapi import FastAPI

from services.notification import api, handlers
from services.notification.channels import SmtpSender, TwilioSender
from services.notification.dispatcher import Dispatcher
from services.notification.queries import Queries
from services.notification.services import NotificationService
from services.notification.settings import NotificationSettings
from services.notification.store import ensure_indexes, mongo_uow
from shared.platform.runtime import Runtime, build_service


def _wire(settings: NotificationSettings):  # type: ignore[no-untyped-def]
    async def wire(rt: Runtime) -> None:
        await ensure_indexes(rt.db)
        email = SmtpSender(settings.smtp_host, settings.smtp_port, settings.smtp_sender,
                           username=settings.smtp_username, password=settings.smtp_password,
                           use_tls=settings.smtp_use_tls, start_tls=settings.smtp_start_tls)
        sms = TwilioSender(settings.twilio_account_sid, settings.twilio_auth_token, settings.twilio_from_number,
                           api_base_url=settings.twilio_api_base_url)
        dispatcher = Dispatcher(rt.db, email, sms, settings)
        rt.provide("dispatcher", dispatcher)
        rt.provide("queries", Queries(rt.db))
        rt.provide("notification", NotificationService(rt.uow_factory(mongo_uow), dispatcher.nudge))
        rt.spawn(dispatcher.run(), "dispatcher")
        rt.on_stop(dispatcher.drain)
        rt.on_stop(sms.close)

    return wire


def create_app(settings: NotificationSettings | None = None) -> FastAPI:
    settings = settings or NotificationSettings()
    return build_service(settings, title="notification",
                         description="Message centre, in-site inbox, email and SMS deliveries with traces.",
                         register=handlers.register, routers=[api.router], wire=_wire(settings))
