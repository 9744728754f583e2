"""Composition root of the orders service."""

from __future__ import annotations

from fastapi import FastAPI

from services.orders import api, handlers
from services.orders.services import OrdersService
from services.orders.settings import OrdersSettings
from services.orders.store import ensure_indexes, mongo_uow
from shared.platform.kafka import make_broker
from shared.platform.mongo import UnitOfWorkFactory
from shared.platform.runtime import Runtime, service_app


def create_app(settings: OrdersSettings | None = None) -> FastAPI:
    settings = settings or OrdersSettings()
    broker, policy = make_broker(settings)
    handlers.register(broker, settings)

    async def wire(rt: Runtime) -> None:
        await ensure_indexes(rt.db)
        orders = OrdersService(UnitOfWorkFactory(mongo_uow(rt.client, rt.db, rt.relay.nudge)))
        broker.context.set_global("orders", orders)
        app.state.orders = orders

    app = service_app(settings, broker, policy, title="orders",
                      description="Accounts, orders, payment, and order status that follows supervision.",
                      routers=[api.router], wire=wire)
    return app
