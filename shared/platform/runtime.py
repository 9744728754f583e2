"""The composition root every service shares: clients in the lifespan, health, outbox relay, shutdown order."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.responses import JSONResponse
from faststream.kafka import KafkaBroker
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from shared.platform import logs
from shared.platform.audit import MongoAuditLog
from shared.platform.deadletter import DeadLetterPolicy
from shared.platform.http import install_security, verifier_for
from shared.platform.kafka import asyncapi, ensure_topics, make_broker
from shared.platform.mongo import Doc, U, UnitOfWorkFactory, connect, ensure_platform_indexes, ping
from shared.platform.relay import OutboxRelay
from shared.platform.settings import ServiceSettings

log = logging.getLogger("runtime")


@dataclass
class Runtime:
    settings: ServiceSettings
    broker: KafkaBroker
    policy: DeadLetterPolicy
    client: AsyncMongoClient[Doc]
    db: AsyncDatabase[Doc]
    relay: OutboxRelay
    tasks: list[asyncio.Task[Any]] = field(default_factory=list)
    stop_hooks: list[Callable[[], Awaitable[Any]]] = field(default_factory=list)

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> None:
        self.tasks.append(asyncio.create_task(coro, name=name))

    app: FastAPI | None = None

    def on_stop(self, hook: Callable[[], Awaitable[Any]]) -> None:
        self.stop_hooks.append(hook)

    def provide(self, name: str, obj: Any) -> None:
        """Make `obj` available to Kafka handlers (`Context(name)`) and HTTP routes (`app.state.<name>`)."""
        self.broker.context.set_global(name, obj)
        if self.app is not None:
            setattr(self.app.state, name, obj)

    def uow_factory(self, make: Callable[..., Callable[[], U]]) -> UnitOfWorkFactory[U]:
        """Units of work of this service's database; a commit with events wakes the outbox relay."""
        return UnitOfWorkFactory(make(self.client, self.db, self.relay.nudge))


Wire = Callable[[Runtime], Awaitable[None]]
Register = Callable[[KafkaBroker, ServiceSettings], None]


def build_service(settings: ServiceSettings, *, title: str, description: str, register: Register,
                  routers: list[APIRouter], wire: Wire) -> FastAPI:
    """A service's app: its broker with the shared delivery policy, its subscribers, its routes."""
    settings.check()  # fail fast: no identity provider, or production with dev-only settings
    broker, policy = make_broker(settings)
    register(broker, settings)
    return service_app(settings, broker, policy, title=title, description=description, routers=routers,
                       wire=wire)


def service_app(settings: ServiceSettings, broker: KafkaBroker, policy: DeadLetterPolicy, *, title: str,
                description: str, routers: list[APIRouter], wire: Wire) -> FastAPI:
    """Build the FastAPI app that also runs the service's Kafka subscribers and background workers.

    `wire` creates the service's use cases from the runtime, publishes them to FastStream's context and
    the app state, and may spawn background workers.
    """
    spec = asyncapi(broker, title=title, description=description)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        logs.configure(settings.service_name, settings.log_level)
        client = connect(settings.mongodb_uri)
        db = client[settings.database]
        await ensure_platform_indexes(db)
        app.state.audit = MongoAuditLog(db, settings.service_name)
        if settings.create_topics:
            await ensure_topics(settings)
        rt = Runtime(settings, broker, policy, client, db, OutboxRelay(db, broker, settings), app=app)
        app.state.runtime = rt
        await wire(rt)
        await broker.start()
        rt.spawn(rt.relay.run(), "outbox-relay")
        log.info("%s started", settings.service_name)
        try:
            yield
        finally:
            # Stop consuming first (in-flight handlers finish within graceful_timeout and commit), then let
            # the relay publish what they wrote, then close the producer and the database.
            for sub in broker.subscribers:
                with contextlib.suppress(Exception):
                    await sub.stop()
            await rt.relay.stop()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(rt.relay.drain_once(), 5)
            for task in rt.tasks:
                task.cancel()
            await asyncio.gather(*rt.tasks, return_exceptions=True)
            for hook in rt.stop_hooks:
                with contextlib.suppress(Exception):
                    await hook()
            await broker.stop()
            await client.close()
            log.info("%s stopped", settings.service_name)

    app = FastAPI(title=title, description=description, version="1.0.0", lifespan=lifespan)
    install_security(app, verifier_for(settings))
    for router in routers:
        app.include_router(router)

    @app.get("/healthz", tags=["ops"])
    async def healthz() -> dict[str, str]:
        """Liveness: the process and its event loop answer."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["ops"])
    async def readyz() -> JSONResponse:
        """Readiness: the database and the broker are reachable, and the outbox relay is running."""
        rt: Runtime = app.state.runtime
        checks: dict[str, str] = {}
        try:
            await asyncio.wait_for(ping(rt.client), 2)
            checks["mongodb"] = "ok"
        except Exception as exc:
            checks["mongodb"] = f"unreachable: {type(exc).__name__}"
        checks["kafka"] = "ok" if await broker.ping(timeout=2) else "unreachable"
        relay_task = next((t for t in rt.tasks if t.get_name() == "outbox-relay"), None)
        checks["outbox_relay"] = "ok" if relay_task and not relay_task.done() else "stopped"
        ready = all(v == "ok" for v in checks.values())
        return JSONResponse(status_code=200 if ready else 503, content={"ready": ready, "checks": checks})

    @app.get("/asyncapi.json", tags=["ops"])
    async def asyncapi_json() -> JSONResponse:
        """The AsyncAPI document of this service's subscribers and publishers."""
        return JSONResponse(spec.to_specification().to_jsonable())

    app.state.asyncapi = spec
    return app


def serve(app: FastAPI, settings: ServiceSettings) -> None:
    import uvicorn

    uvicorn.run(app, host=settings.http_host, port=settings.http_port, log_config=None,
                timeout_graceful_shutdown=20)
