"""Composition root of the supervision service."""

from __future__ import annotations

from fastapi import FastAPI

from services.supervision import api, handlers
from services.supervision.services import SupervisionService
from services.supervision.settings import SupervisionSettings
from services.supervision.store import ensure_indexes, mongo_uow
from shared.platform.runtime import Runtime, build_service


async def wire(rt: Runtime) -> None:
    await ensure_indexes(rt.db)
    rt.provide("supervision", SupervisionService(rt.uow_factory(mongo_uow)))


def create_app(settings: SupervisionSettings | None = None) -> FastAPI:
    return build_service(settings or SupervisionSettings(), title="supervision",
                         description="Service orders: flows per delivery type, evidence, acceptance, appeals.",
                         register=handlers.register, routers=[api.router], wire=wire)
