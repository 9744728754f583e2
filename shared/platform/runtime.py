"""The composition root every service shares: clients in the lifespan, health, outbox relay, shutdown
order."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from types import FrameType
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.responses import JSONResponse
from faststream.kafka import KafkaBroker
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase
from tenacity import AsyncRetrying, retry_if_exception, stop_after_delay, wait_exponential_jitter

from shared.platform import idempotency, logs, metrics, tracing
from shared.platform.audit import MongoAuditLog
from shared.platform.commits import end_linger, stop_committers
from shared.platform.deadletter import DeadLetterPolicy, is_transient
from shared.platform.deadletters import STORE, DeadLetterStore, register_dead_letters
from shared.platform.deadletters import parked_router as parked_routes
from shared.platform.deadletters import router as dead_letter_routes
from shared.platform.http import install_security, verifier_for
from shared.platform.idempotency import IdempotencyMiddleware
from shared.platform.kafka import asyncapi, asyncapi_document, ensure_topics, make_broker
from shared.platform.mongo import Doc, U, UnitOfWorkFactory, connect, ensure_platform_indexes, ping
from shared.platform.parking import MongoParking
from shared.platform.relay import OutboxRelay
from shared.platform.settings import ServiceSettings
from shared.platform.waits import InsertWatch
from shared.platform.worker import LeasedWorker, Source, WorkerSettings
from shared.schemas.acl import GRANTS

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
    workers: list[LeasedWorker[Any]] = field(default_factory=list)
    parking: MongoParking | None = None
    drain_hooks: list[Callable[[], None]] = field(default_factory=list)
    waits: dict[str, InsertWatch] = field(default_factory=dict)  # waiting reads, counted in /readyz
    loop: asyncio.AbstractEventLoop = field(default_factory=asyncio.get_running_loop)

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> None:
        self.tasks.append(asyncio.create_task(coro, name=name))

    def worker(self, source: Source[Any], settings: WorkerSettings) -> LeasedWorker[Any]:
        """A background loop of this service: the shared leased worker on `source`, reported in /readyz."""
        worker: LeasedWorker[Any] = LeasedWorker(self.db, source, settings)
        self.workers.append(worker)
        return worker

    app: FastAPI | None = None

    def on_stop(self, hook: Callable[[], Awaitable[Any]]) -> None:
        self.stop_hooks.append(hook)

    def on_drain(self, hook: Callable[[], None]) -> None:
        """`hook` runs as soon as the process is told to stop, before the HTTP server waits for open requests
        (a held request answers then, rather than at its timeout); and at the lifespan's end in any case."""
        self.drain_hooks.append(hook)

    def waiting_reads(self, name: str, watch: InsertWatch) -> None:
        """Run `watch` (its change stream) for the process's life, closed when the process is told to stop."""
        self.waits[name] = watch
        self.spawn(watch.run(), f"{name}-watch")
        self.on_drain(watch.close)

    def begin_draining(self) -> None:
        """Run the drain hooks on the event loop; safe from a signal handler."""

        def drain() -> None:
            for hook in self.drain_hooks:
                try:
                    hook()
                except Exception:
                    log.exception("drain hook failed")

        self.loop.call_soon_threadsafe(drain)

    def provide(self, name: str, obj: Any) -> None:
        """Make `obj` available to Kafka handlers (`Context(name)`) and HTTP routes (`app.state.<name>`)."""
        self.broker.context.set_global(name, obj)
        if self.app is not None:
            setattr(self.app.state, name, obj)

    def uow_factory(self, make: Callable[..., Callable[[], U]]) -> UnitOfWorkFactory[U]:
        """Units of work of this service's database; a commit with events wakes the outbox relay."""
        return UnitOfWorkFactory(
            make(self.client, self.db, self.relay.nudge), service=self.settings.service_name
        )


Wire = Callable[[Runtime], Awaitable[None]]
Register = Callable[[KafkaBroker, ServiceSettings], None]


def build_service(
    settings: ServiceSettings,
    *,
    description: str,
    register: Register,
    routers: list[APIRouter],
    wire: Wire,
    title: str | None = None,
) -> FastAPI:
    """A service's app: its broker with the shared delivery policy, its subscribers, its routes; titled with
    the service's name unless `title` says otherwise."""
    settings.check()  # fail fast: no identity provider, or production with dev-only settings
    broker, policy = make_broker(settings)
    register(broker, settings)
    register_dead_letters(broker, settings, sorted(GRANTS[settings.service_name].produces))
    return service_app(
        settings,
        broker,
        policy,
        title=title or settings.service_name,
        description=description,
        routers=routers,
        wire=wire,
    )


async def patiently(what: str, step: Callable[[], Awaitable[Any]], within: float) -> None:
    """A start-up step that needs the broker or the database, retried while that is away (a replica restarted
    during a broker or database restart) for up to `within` seconds; then the start fails and the orchestrator
    restarts the pod. Meanwhile the process answers nothing, which a startup probe tolerates."""

    def waiting(state: Any) -> None:
        exc = state.outcome.exception() if state.outcome else None
        log.warning("waiting for %s to start: %s: %s", what, type(exc).__name__, exc)

    async for attempt in AsyncRetrying(
        stop=stop_after_delay(within),
        wait=wait_exponential_jitter(0.5, 5.0),
        retry=retry_if_exception(is_transient),
        before_sleep=waiting,
        reraise=True,
    ):
        with attempt:
            await step()


def service_app(
    settings: ServiceSettings,
    broker: KafkaBroker,
    policy: DeadLetterPolicy,
    *,
    title: str,
    description: str,
    routers: list[APIRouter],
    wire: Wire,
) -> FastAPI:
    """Build the FastAPI app that also runs the service's Kafka subscribers and background workers.

    `wire` creates the service's use cases from the runtime, publishes them to FastStream's context and
    the app state, and may spawn background workers.
    """
    spec = asyncapi(broker, title=title, description=description)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        logs.configure(settings.service_name, settings.log_level)
        tracer_provider = tracing.setup(settings)  # None unless OTEL_TRACES_EXPORTER says otherwise
        client = connect(settings.mongodb_uri, settings.mongodb_max_pool_size)
        db = client[settings.database]
        await patiently("the database", lambda: ensure_platform_indexes(db), settings.startup_wait_seconds)
        app.state.audit = MongoAuditLog(db, settings.service_name)
        if settings.create_topics:
            await ensure_topics(settings)
        rt = Runtime(settings, broker, policy, client, db, OutboxRelay(db, broker, settings), app=app)
        app.state.runtime = rt
        rt.workers.append(rt.relay.worker)
        parking = MongoParking(db, policy, settings.park_bound_seconds)
        policy.parking = rt.parking = parking
        rt.provide(
            "parking", parking
        )  # use cases tell it when an aggregate arrives (`await parking.arrived(id)`)
        parked = rt.worker(
            parking,
            WorkerSettings(
                poll_seconds=1.0, batch=50, max_attempts=20, backoff_seconds=1.0, backoff_max_seconds=60.0
            ),
        )
        parking.on_parked.append(parked.nudge)
        store = DeadLetterStore(db, broker, settings)
        broker.context.set_global(STORE, store)
        app.state.dead_letter_store = store
        await wire(rt)
        # The producer first, then the workers (the relay publishes), then the subscribers: joining the
        # consumer groups can take a rebalance's time after a crash, and due timers and reminders must not
        # wait for it.
        await patiently("the broker", broker.connect, settings.startup_wait_seconds)
        for worker in rt.workers:
            worker.start()
        await broker.start()
        log.info("%s started", settings.service_name)
        settle_collector()  # once started: the modules, the app, its clients, consumers and workers
        try:
            yield
        finally:
            # Stop consuming first (in-flight handlers finish within graceful_timeout and commit), then let
            # the relay publish what they wrote, then close the producer and the database.
            for drain in rt.drain_hooks:  # already run when a signal stopped the server; they are idempotent
                with contextlib.suppress(Exception):
                    drain()
            end_linger()
            for sub in broker.subscribers:
                with contextlib.suppress(Exception):
                    await sub.stop()
            await stop_committers()
            for worker in reversed(rt.workers):  # the relay (first in) stops last
                await worker.stop()
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
            tracing.shutdown(tracer_provider)  # exports the spans still buffered
            log.info("%s stopped", settings.service_name)

    app = FastAPI(title=title, description=description, version="1.0.0", lifespan=lifespan)
    install_security(app, verifier_for(settings))
    app.add_middleware(IdempotencyMiddleware)
    tracing.instrument(app, settings)
    metrics.install(app, settings.service_name)  # GET /metrics, and every request counted and timed
    if GRANTS[settings.service_name].produces:  # it keeps dead letters only of topics it produces
        app.include_router(dead_letter_routes)
    app.include_router(parked_routes)
    for router in routers:
        app.include_router(router)

    @app.get("/healthz", tags=["ops"])
    async def healthz() -> dict[str, str]:
        """Liveness: the process and its event loop answer."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["ops"])
    async def readyz() -> JSONResponse:
        """Readiness: the database and the broker are reachable, and every background worker is alive (its
        last
        successful round and quarantined items are reported; quarantined items do not make it unready)."""
        rt: Runtime = app.state.runtime
        checks: dict[str, str] = {}
        try:
            await asyncio.wait_for(ping(rt.client), 2)
            checks["mongodb"] = "ok"
        except Exception as exc:
            checks["mongodb"] = f"unreachable: {type(exc).__name__}"
        checks["kafka"] = "ok" if await broker.ping(timeout=2) else "unreachable"
        workers = {w.name: w.health() for w in rt.workers}
        for name, health in workers.items():
            checks[f"worker:{name}"] = "ok" if health.alive else "dead"
        ready = all(v == "ok" for v in checks.values())
        # Outbox rows not yet published (a backlog, not a readiness failure); None while the database is away.
        pending: int | None = None
        if checks["mongodb"] == "ok":
            with contextlib.suppress(Exception):
                pending = await asyncio.wait_for(rt.relay.pending(), 2)
        return JSONResponse(
            status_code=200 if ready else 503,
            content={
                "ready": ready,
                "checks": checks,
                "workers": {n: h.as_dict() for n, h in workers.items()},
                "outbox": {"pending": pending},
                "waiting_reads": {name: w.waiting for name, w in rt.waits.items()},
            },
        )

    @app.get("/asyncapi.json", tags=["ops"])
    async def asyncapi_json() -> JSONResponse:
        """The AsyncAPI document of this service's subscribers and publishers."""
        return JSONResponse(asyncapi_document(spec))

    app.state.asyncapi = spec
    idempotency.document(app)
    return app


def event_loop() -> str:
    """uvloop where it is installed (not on Windows or PyPy), else asyncio's own loop."""
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return "asyncio"
    return "uvloop"


def settle_collector() -> None:
    """Move what exists once a service has started (modules, schemas, routes, the app, the clients and
    workers the lifespan starts) out of the garbage collector's reach: it lives as long as the process, and a
    full collection would scan it again and again. Under load a full collection stopped a service's event loop
    for 100-160 ms about every 10 s (make bench: the tail of pay → in-site); with this, 3-58 ms."""
    gc.collect()
    gc.freeze()


def serve(app: FastAPI, settings: ServiceSettings) -> None:
    import uvicorn

    class Server(uvicorn.Server):
        """uvicorn's server, which also tells the runtime when a signal asks it to stop: held requests (a
        waiting inbox read) answer then, instead of holding the shutdown for their whole wait."""

        def handle_exit(self, sig: int, frame: FrameType | None) -> None:
            super().handle_exit(sig, frame)
            runtime: Runtime | None = getattr(app.state, "runtime", None)
            if runtime is not None:
                runtime.begin_draining()

    loop = event_loop()
    log.info("serving on the %s event loop", loop)
    config = uvicorn.Config(
        app,
        host=settings.http_host,
        port=settings.http_port,
        log_config=None,
        timeout_graceful_shutdown=20,
        loop=loop,
        http="auto",  # httptools where installed, else h11
    )
    Server(config).run()
