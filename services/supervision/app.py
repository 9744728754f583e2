"""Composition root of the supervision service."""

from __future__ import annotations

from fastapi import FastAPI

from services.supervision import api, handlers
from services.supervision.evidence import Limits
from services.supervision.queries import SupervisionQueries
from services.supervision.services import SupervisionService
from services.supervision.settings import SupervisionSettings
from services.supervision.store import ensure_indexes, mongo_uow
from services.supervision.worker import TimerSource, timer_worker
from shared.platform.collection import MongoCollections
from shared.platform.runtime import Runtime, build_service


def create_app(settings: SupervisionSettings | None = None) -> FastAPI:
    settings = settings or SupervisionSettings()

    async def wire(rt: Runtime) -> None:
        await ensure_indexes(rt.db)
        keys = settings.timeline_keys()
        service = SupervisionService(
            rt.uow_factory(mongo_uow),
            settings.policy(),
            limits=Limits(settings.evidence_max_bytes, frozenset(settings.evidence_content_types)),
            keys=keys,
            checkpoint_every=settings.timeline_checkpoint_every,
        )
        rt.provide("supervision", service)
        rt.provide("queries", SupervisionQueries(MongoCollections(rt.db), keys))
        rt.worker(TimerSource(service), timer_worker(settings))  # started and stopped by the runtime

    return build_service(
        settings,
        description="Service orders: flows per delivery type, acceptance rules, evidence, "
        "appeals, deadlines and refunds.",
        register=handlers.register,
        routers=[api.router],
        wire=wire,
    )
