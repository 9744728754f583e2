"""Composition root of the orders service."""

from __future__ import annotations

from fastapi import FastAPI

from services.orders import (
    api,
    api_catalogue,
    api_lists,
    api_returns,
    api_statements,
    buyer_api,
    handlers,
    offer_api,
)
from services.orders.clocks import ReturnClocks, StatementRuns, clocks_worker
from services.orders.context import OrdersContext
from services.orders.queries import OrdersQueries
from services.orders.settings import OrdersSettings
from services.orders.store import ensure_indexes, mongo_uow
from services.orders.sweeper import ExpiryReminderSource, UnpaidSource, sweeper_worker
from shared.platform.collection import MongoCollections
from shared.platform.runtime import Runtime, build_service


def create_app(settings: OrdersSettings | None = None) -> FastAPI:
    settings = settings or OrdersSettings()

    async def wire(rt: Runtime) -> None:
        await ensure_indexes(rt.db)
        ctx = OrdersContext(rt.uow_factory(mongo_uow), OrdersQueries(MongoCollections(rt.db)), settings)
        rt.provide("orders", ctx)
        rt.worker(UnpaidSource(ctx), sweeper_worker(settings))  # started and stopped by the runtime
        rt.worker(ExpiryReminderSource(ctx), sweeper_worker(settings))
        rt.worker(ReturnClocks(ctx), clocks_worker(settings))
        rt.worker(StatementRuns(ctx, settings.workday_calendar()), clocks_worker(settings))

    return build_service(
        settings,
        description="Catalogue and publishing, accounts, orders and their lifecycle, the buyer's "
        "purchased services and favourites, refunds, billing eligibility.",
        register=handlers.register,
        routers=[
            api.router,
            api_lists.router,
            api_catalogue.router,
            buyer_api.router,
            offer_api.router,
            api_returns.router,
            api_statements.router,
        ],
        wire=wire,
    )
