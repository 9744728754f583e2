"""`python -m bench [--quick] [--python-db]`: start a stack of its own, measure issue 12's targets, print a
table, write results.json (each target with a stable id), stop; then time `make run`'s start on its own.

Phases: 1. accept → completed, one at a time and 100 at once; 2. the orders pipeline's rate
(acceptance.done events handed over at once); 3. external deliveries per second from a burst of payments,
each counted exactly once; 4. pay → in-site message at 20 payments per second for 60 s, with each service's
peak memory; 3b (run after 4, on idle services). the notification pipeline's rate (order.paid events handed
over at once); 5. the ceiling loops (the same I/O without the services); 6. the cold start. Each phase
reports each process's share of the CPU.

Exit status: 0 when every measurement completed (a missed target is reported as MISS, not as a failure),
1 when a measurement could not complete, 2 when the stack did not start, 130 when interrupted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import sys
import tempfile
import time
import traceback
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

import aiohttp
import httpx

from bench.api import Api
from bench.ceiling import notification_ceiling, orders_ceiling
from bench.coldstart import cold_start
from bench.latency import acceptance, sustained_inbox
from bench.memory import PeakRss, cpu_seconds, cpu_share, facts, k8s_limits, memory
from bench.report import render
from bench.targets import targets
from bench.throughput import deliveries, notification_pipeline, orders_pipeline
from bench.watch import CompletionWatch
from devstack.stack import REPO, SERVICES, Ports, Stack
from shared.platform.mongo import connect

OUT = REPO / ".devstack" / "bench" / "results.json"
# Short retry backoffs, as in the e2e suite, so a transient failure does not stall a run for minutes.
RETRIES = {
    "NOTIFICATION_DELIVERY_BACKOFF_SECONDS": "0.5",
    "NOTIFICATION_DELIVERY_BACKOFF_MAX_SECONDS": "2",
    # Throughput sends one buyer's and one merchant's messages by the hundred: no per-address limit.
    "NOTIFICATION_RATE_LIMIT_SMS": "0",
    **{f"{s.upper()}_CONSUMER_BACKOFF_SECONDS": "0.1" for s in SERVICES},
}
# The e2e suite's shorter poll intervals; off by default, so the figures are those of the production defaults.
FAST_POLLS = {
    "NOTIFICATION_DISPATCH_POLL_SECONDS": "0.2",
    **{f"{s.upper()}_RELAY_POLL_SECONDS": "0.2" for s in SERVICES},
}
START = time.monotonic()


def log(msg: str) -> None:
    print(f"[{time.monotonic() - START:6.1f}s] {msg}", flush=True)


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m bench", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--orders", type=int, default=100, help="orders accepted at once (the burst)")
    p.add_argument("--sequential", type=int, default=30, help="orders accepted one at a time")
    p.add_argument(
        "--pipeline-orders", type=int, default=200, help="acceptance.done events for the orders rate"
    )
    p.add_argument(
        "--pay-orders", type=int, default=200, help="payments for the delivery rate (4 sends each)"
    )
    p.add_argument("--pay-concurrency", type=int, default=16)
    p.add_argument("--inbox-rate", type=float, default=20.0, help="payments per second, sustained")
    p.add_argument("--inbox-seconds", type=float, default=60.0, help="how long the sustained load lasts")
    p.add_argument("--ceiling-events", type=int, default=500, help="events through each ceiling loop")
    p.add_argument(
        "--notification-events",
        type=int,
        default=500,
        help="order.paid events handed to the notification pipeline at once (its ceiling's count)",
    )
    p.add_argument("--quick", action="store_true", help="small numbers for a smoke run (about 2 minutes)")
    p.add_argument(
        "--python-db",
        action="store_true",
        help="run SecantusDB's Python server (the fallback) instead of the Rust one (SECANTUS_SERVER=python)",
    )
    p.add_argument("--skip-cold-start", action="store_true", help="do not time `make run`'s start")
    p.add_argument(
        "--fast-polls", action="store_true", help="the e2e suite's 0.2 s relay/dispatch poll intervals"
    )
    p.add_argument(
        "--budget",
        type=float,
        default=0.0,
        help="seconds after which the delivery phase stops waiting (default 300, or 120 with --quick)",
    )
    p.add_argument(
        "--keep", action="store_true", help="keep the temp dir with the service logs after a good run"
    )
    p.add_argument("--out", type=Path, default=OUT)
    args = p.parse_args(argv)
    if args.quick:
        args.orders, args.sequential, args.pipeline_orders, args.pay_orders = 10, 5, 30, 30
        args.inbox_seconds, args.ceiling_events, args.notification_events = 10.0, 30, 30
    args.budget = args.budget or (120.0 if args.quick else 300.0)
    return args


async def phase(stack: Stack, results: dict[str, Any], key: str, work: Any) -> None:
    """Run one phase; its result gets the cores each process used meanwhile (`cpu_cores`) and its wall
    time."""
    cpu0, t0 = cpu_seconds(stack), time.monotonic()
    result = await work
    wall = time.monotonic() - t0
    result.setdefault("cpu_cores", cpu_share(cpu0, cpu_seconds(stack), wall))
    result["phase_wall_s"] = round(wall, 1)
    results[key] = result


async def ceilings(
    stack: Stack, args: argparse.Namespace, results: dict[str, Any], template: dict[str, Any]
) -> None:
    client = connect(stack.mongo_uri)
    prefix = f"{stack.namespace}_ceiling"
    out: dict[str, Any] = {}
    try:
        log(f"5. ceilings: {args.ceiling_events} events through each loop, the services idle")
        db = {name: client[f"{prefix}_{name}"] for name in ("notification", "orders")}
        loops: list[tuple[str, Callable[[], Awaitable[dict[str, Any]]], float | None]] = [
            (
                "notification",
                lambda: notification_ceiling(stack, db["notification"], args.ceiling_events, log),
                (results.get("notification_pipeline") or {}).get("events_per_s"),
            ),
            (
                "orders",
                lambda: orders_ceiling(stack, db["orders"], args.ceiling_events, template, log),
                (results.get("orders_pipeline") or {}).get("events_per_s"),
            ),
        ]
        for name, run, service in loops:
            await phase(stack, out, name, run())
            c = out[name]
            c["ceiling_events_per_s"] = c["events_per_s"]
            c["service_events_per_s"] = service
            c["ratio"] = round(service / c["events_per_s"], 3) if service and c["events_per_s"] else None
            log(f"  {name}: ceiling {c['events_per_s']} events/s, service {service} → ratio {c['ratio']}")
    finally:
        results["ceilings"] = out
        await client.close()


async def measure(stack: Stack, args: argparse.Namespace, results: dict[str, Any]) -> None:
    # An idle connection is dropped by the client before uvicorn's 5 s keep-alive would close it under a
    # request in flight (a POST on a connection the server just closed fails with a read error).
    limits = httpx.Limits(max_connections=160, max_keepalive_connections=160, keepalive_expiry=2.0)
    cpu = lambda: cpu_seconds(stack)  # noqa: E731
    load = aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=200, keepalive_timeout=2.0),
        timeout=aiohttp.ClientTimeout(total=30),
    )
    async with (
        httpx.AsyncClient(timeout=30, limits=limits) as http,
        load,
        CompletionWatch(stack) as watch,
    ):
        api = Api(stack, http, load=load)
        log(f"1. acceptance → completed: {args.sequential} one at a time, then {args.orders} at once")
        await phase(
            stack, results, "acceptance", acceptance(api, watch, args.sequential, args.orders, log, cpu)
        )
        log(f"2. orders pipeline: {args.pipeline_orders} acceptance.done events at once")
        await phase(
            stack,
            results,
            "orders_pipeline",
            orders_pipeline(api, stack, watch, args.pipeline_orders, log, cpu),
        )
        template = results["orders_pipeline"].pop("_template")
        log(f"3. notification deliveries: {args.pay_orders} orders paid")
        cap = max(30.0, args.budget)
        await phase(
            stack,
            results,
            "deliveries",
            deliveries(api, args.pay_orders, args.pay_concurrency, log, cpu, cap),
        )
        log(f"4. pay → in-site message: {args.inbox_rate:g} payments/s for {args.inbox_seconds:g}s")
        rss = PeakRss(stack)
        try:
            await phase(
                stack, results, "inbox", sustained_inbox(api, args.inbox_rate, args.inbox_seconds, log, rss)
            )
        finally:
            await rss.close()
        # The sustained load's e-mail and SMS backlog goes out first: the next phases start on idle services.
        drained = await api.quiesce(api.parties[-4:], limit=180.0)
        log(f"  notification backlog drained in {drained:.1f}s")
        # After the sustained load, so that its work (service orders, timers, reminders) weighs on no latency.
        log(f"3b. notification pipeline: {args.notification_events} order.paid events at once")
        await phase(
            stack,
            results,
            "notification_pipeline",
            notification_pipeline(api, stack, args.notification_events, log, cpu, cap),
        )
        drained = await api.quiesce(api.parties[-2:], limit=180.0)
        log(f"  notification backlog drained in {drained:.1f}s")
    await ceilings(stack, args, results, template)
    results["memory"] = memory(stack)


def _errors(stack: Stack, last: int = 3) -> str:
    """The last ERROR lines each service logged: usually why a measurement stalled."""
    out = []
    for name, proc in stack.services.items():
        lines = [
            line for line in proc.output().splitlines() if '"level": "ERROR"' in line or "Traceback" in line
        ]
        out += [f"  {name}: {line[:400]}" for line in lines[-last:]]
    return "\n".join(out)


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    load = os.getloadavg()  # before this run adds its own
    signal.signal(signal.SIGTERM, _terminate)
    env = {**RETRIES, **(FAST_POLLS if args.fast_polls else {})}
    if args.python_db:
        os.environ["SECANTUS_SERVER"] = "python"  # devstack/mongo.py: the fallback server, for this run only
    tmp = Path(tempfile.mkdtemp(prefix="bench-"))
    stack = Stack(tmp, Ports.free(), namespace=f"bench{uuid.uuid4().hex[:8]}", service_env=env)
    results: dict[str, Any] = {
        "started_at": datetime.now(UTC).isoformat(),
        "mode": "quick" if args.quick else "full",
        "params": {k: v for k, v in vars(args).items() if k != "out"} | {"out": str(args.out)},
    }
    code = 0
    try:
        try:
            log(f"starting the stack in {tmp}")
            stack.start_infra_with_cache(REPO / ".devstack" / "cache")  # the jars `make install` resolved
            stack.start_sinks()
            stack.start_services()
            log("stack up")
        except (RuntimeError, TimeoutError, OSError) as exc:
            print(f"the stack did not start: {exc}", file=sys.stderr)
            return 2
        results["machine"] = facts(stack, env, load)
        results["secantus_server"] = results["machine"]["secantus_server"]
        results["k8s_memory_limits_mib"] = k8s_limits()
        cpu0, t0 = cpu_seconds(stack), time.monotonic()
        results["startup_s"] = round(time.monotonic() - START, 1)
        try:
            asyncio.run(measure(stack, args, results))
            results["cpu_cores_whole_run"] = cpu_share(cpu0, cpu_seconds(stack), time.monotonic() - t0)
        except Exception:
            traceback.print_exc()
            print(
                f"a measurement could not complete; service logs are in {stack.logs}\n{_errors(stack)}",
                file=sys.stderr,
            )
            code = 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        code = 130
    finally:
        log("stopping the stack")
        stack.stop()
    if code == 0 and not args.skip_cold_start:
        log("6. cold start: `devstack jars` then `devstack run` in a state folder of their own")
        try:
            results["cold_start"] = cold_start(REPO / ".devstack" / "cache")
            log(f"  {results['cold_start'].get('ready_s', results['cold_start'].get('error'))}")
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            code = 130
    results["runtime_s"] = round(time.monotonic() - START, 1)
    results["complete"] = code == 0
    if "machine" in results:
        results["machine"]["loadavg_at_end"] = [round(x, 2) for x in os.getloadavg()]
        results["targets"] = targets(results)
        print(render(results))
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=2) + "\n")
        print(f"results: {args.out}")
    if code == 0 and not args.keep:
        shutil.rmtree(tmp, ignore_errors=True)
    else:
        print(f"logs kept in {stack.logs}", file=sys.stderr if code else sys.stdout)
    return code


if __name__ == "__main__":
    sys.exit(main())
