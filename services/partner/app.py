"""Composition root of the partner service."""

from __future__ import annotations

from fastapi import FastAPI

from services.partner import api, handlers
from services.partner.services import PartnerService
from services.partner.settings import PartnerSettings
from services.partner.store import ensure_indexes, mongo_uow
from shared.platform.runtime import Runtime, build_service


async def wire(rt: Runtime) -> None:
    await ensure_indexes(rt.db)
    rt.provide("partner", PartnerService(rt.uow_factory(mongo_uow)))


def create_app(settings: PartnerSettings | None = None) -> FastAPI:
    return build_service(settings or PartnerSettings(), title="partner",
                         description="Customer service providers: bindings, earnings and their live ledger.",
                         register=handlers.register, routers=[api.router], wire=wire)
