"""Composition root of the orders service."""

from __future__ import annotations

from fastapi import FastAPI

from services.orders import api, buyer_api, handlers
from services.orders.services import OrdersService
from services.orders.settings import OrdersSettings
from services.orders.store import ensure_indexes, mongo_uow
from services.orders.sweeper import UnpaidSource, sweeper_worker
from shared.platform.runtime import Runtime, build_service


def create_app(settings: OrdersSettings | None = None) -> FastAPI:
    settings = settings or OrdersSettings()

    async def wire(rt: Runtime) -> None:
        await ensure_indexes(rt.db)
        orders = OrdersService(rt.uow_factory(mongo_uow), settings)
        rt.provide("orders", orders)
        rt.worker(UnpaidSource(orders), sweeper_worker(settings))  # started and stopped by the runtime

    return build_service(settings, title="orders",
                         description="Catalogue and publishing, accounts, orders and their lifecycle, the buyer's "
                                     "purchased services and favourites, billing eligibility.",
                         register=handlers.register, routers=[api.router, api.catalogue, buyer_api.router], wire=wire)
