"""Composition root of the orders service."""

from __future__ import annotations

from fastapi import FastAPI

from services.orders import api, handlers
from services.orders.services import OrdersService
from services.orders.settings import OrdersSettings
from services.orders.store import ensure_indexes, mongo_uow
from shared.platform.runtime import Runtime, build_service


async def wire(rt: Runtime) -> None:
    await ensure_indexes(rt.db)
    rt.provide("orders", OrdersService(rt.uow_factory(mongo_uow)))


def create_app(settings: OrdersSettings | None = None) -> FastAPI:
    return build_service(settings or OrdersSettings(), title="orders",
                         description="Accounts, orders, payment, and order status that follows supervision.",
                         register=handlers.register, routers=[api.router], wire=wire)
