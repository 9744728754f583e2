"""`python -m chaos [--orders N]` (`make chaos`): the fault matrix at N orders (default 1,000;
`CHAOS_ORDERS`).

Starts a stack of its own in a temp folder with two replicas of each service, builds a world, drives N orders
through their stories at bounded concurrency while injecting the faults of `chaos.faults.matrix`, waits for
the suite to drain, checks everything through the services' APIs and the sinks, prints a table per fault and,
as its last line, `chaos: orders=N faults=F lost=L duplicated=D stuck=S dead_lettered=X poisoned=P wall=NNNs`.

Exit status: 0 when nothing was lost, duplicated, stuck or dead-lettered; 1 otherwise; 2 when the stack did
not start; 130 when interrupted. The temp folder (service logs, results.json) is kept unless the run was
clean.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import signal
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable
from pathlib import Path
from types import FrameType
from typing import Any

import httpx

from chaos import poison
from chaos.checks import Checker, Findings
from chaos.cluster import Cluster, GaveUp, Refused
from chaos.cpu import CpuMeter
from chaos.faults import Fault, Injector, all_recovered, matrix
from chaos.report import Run, as_json, last_line, render
from chaos.story import Plan, Progress, drive, plans
from chaos.world import World, build
from devstack.identity import KeycloakAdmin, LoginFailed
from devstack.stack import REPO, Ports, Stack

START = time.monotonic()
QUICK = 200  # up to this many orders, faults are held shorter (the quick variant in `make test`)
# Production settings but one: every buyer is texted for each of its ~20 orders, more than the per-number SMS
# limit (5 a minute) lets through at this pace; the limit would only defer them (its own test shows it).
ENV = {"NOTIFICATION_RATE_LIMIT_SMS": "0"}


def log(msg: str) -> None:
    print(f"[{time.monotonic() - START:6.1f}s] {msg}", flush=True)


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m chaos", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--orders", type=int, default=int(os.environ.get("CHAOS_ORDERS") or 1000))
    p.add_argument(
        "--concurrency", type=int, default=0, help="orders in flight at once (default: 24, quick 16)"
    )
    p.add_argument(
        "--span",
        type=float,
        default=0.0,
        help="seconds over which orders start and faults are injected (default: 150 quick, "
        "0.6 s per order otherwise)",
    )
    p.add_argument(
        "--drain",
        type=float,
        default=0.0,
        help="seconds the checks wait for the suite to drain (default 240 quick, 600 otherwise)",
    )
    p.add_argument("--no-faults", action="store_true", help="the same run without faults (a baseline)")
    p.add_argument("--keep", action="store_true", help="keep the temp folder even after a clean run")
    args = p.parse_args(argv)
    quick = args.orders <= QUICK
    args.quick = quick
    args.concurrency = args.concurrency or (16 if quick else 24)
    args.span = args.span or (150.0 if quick else 0.6 * args.orders)
    args.drain = args.drain or (240.0 if quick else 600.0)
    return args


async def drive_all(
    ps: list[Plan],
    cluster: Cluster,
    world: World,
    progress: Progress,
    concurrency: int,
    span: float,
    t0: float,
) -> None:
    """Start the orders evenly over the span (so the faults hit a suite at work), at most `concurrency` at
    once."""
    gate = asyncio.Semaphore(concurrency)

    async def one(plan: Plan) -> None:
        await asyncio.sleep(max(0.0, t0 + 0.9 * span * plan.index / len(ps) - time.monotonic()))
        async with gate:
            try:
                await drive(plan, cluster, world, progress)
            except (GaveUp, Refused, httpx.HTTPError, LoginFailed) as exc:
                plan.error = f"{type(exc).__name__}: {exc}"[:600]
                log(f"order #{plan.index} ({plan.kind}) stopped at '{plan.step}': {plan.error[:300]}")

    await asyncio.gather(*(one(p) for p in ps))


async def poisons(stack: Stack, span: float, t0: float) -> int:
    """Two batches of poison, early and in the middle of the run; the dead letters they must make."""
    expected = 0
    for batch, at in enumerate((0.05, 0.55), 1):
        await asyncio.sleep(max(0.0, t0 + at * span - time.monotonic()))
        expected += await poison.publish(stack, batch)
        log(f"published poison batch {batch} ({len(poison.RECORDS)} records)")
    return expected


async def report_progress(ps: list[Plan], cluster: Cluster, stack: Stack, t0: float) -> None:
    while True:
        await asyncio.sleep(15)
        started = sum(p.step != "not started" for p in ps)
        done, failed = sum(p.done for p in ps), sum(p.error is not None for p in ps)
        try:
            mails = (await cluster.http.get(f"{stack.mail_url}/api/v1/messages", params={"limit": 1})).json()
        except httpx.HTTPError:
            mails = {"messages_count": "?"}
        retried = sum(cluster.retries.values())
        log(
            f"  {time.monotonic() - t0:5.0f}s: orders started {started}, done {done}, failed {failed}; "
            f"e-mails at Mailpit {mails['messages_count']}; HTTP calls {cluster.calls}, retried {retried}"
        )


async def run(stack: Stack, args: argparse.Namespace) -> tuple[Run, bool]:
    limits = httpx.Limits(max_connections=96, max_keepalive_connections=48)
    async with httpx.AsyncClient(timeout=30, limits=limits) as http:
        cluster = Cluster(stack, http)
        assert stack.keycloak is not None
        admin = KeycloakAdmin(stack.keycloak.url, stack.keycloak.admin_password)
        log("building the world (people in Keycloak, profiles, providers, products)")
        world = await build(cluster, admin, stack.issuer, args.orders, log)
        ps = plans(world, args.orders)
        progress = Progress()
        injector = Injector(stack, http, progress, log, cluster.posting)
        faults: list[Fault] = [] if args.no_faults else matrix(args.quick)
        meter = CpuMeter(stack)
        background = [
            asyncio.create_task(meter.run()),
            asyncio.create_task(report_progress(ps, cluster, stack, time.monotonic())),
        ]
        t0 = time.monotonic()
        log(
            f"driving {args.orders} orders over {args.span:.0f}s at concurrency {args.concurrency}; "
            f"{len(faults)} faults"
        )
        work: list[Awaitable[Any]] = [
            drive_all(ps, cluster, world, progress, args.concurrency, args.span, t0),
            injector.run(faults, args.span, t0),
            poisons(stack, args.span, t0),
        ]
        _, _, poison_expected = await asyncio.gather(*work)
        drive_s = time.monotonic() - t0
        background[1].cancel()
        log(
            f"drive done in {drive_s:.0f}s; waiting for the suite to drain, then checking "
            f"(bound {args.drain:.0f}s)"
        )
        checker = Checker(cluster, world, ps, poison_expected, log)
        findings: Findings = await checker.settle(args.drain)
        for task in background:
            task.cancel()
        meter.sample()
        result = Run(
            args.orders,
            ps,
            faults,
            findings,
            t0,
            drive_s,
            time.monotonic() - t0 - drive_s,
            time.monotonic() - START,
            meter.cores(),
            cluster.retries,
            cluster.calls,
        )
        recovered = all_recovered(faults)
        return result, recovered


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    signal.signal(signal.SIGTERM, _terminate)
    tmp = Path(tempfile.mkdtemp(prefix="chaos-"))
    stack = Stack(tmp, Ports.free(), namespace=f"chaos{uuid.uuid4().hex[:8]}", service_env=ENV, replicas=2)
    code, result = 0, None
    try:
        try:
            log(f"starting the stack in {tmp} (two replicas of each service)")
            stack.start_infra_with_cache(REPO / ".devstack" / "cache")  # the jars `make install` resolved
            stack.start_sinks()
            stack.start_services()
            log("stack up")
        except (RuntimeError, TimeoutError, OSError) as exc:
            print(f"the stack did not start: {exc}", file=sys.stderr)
            return 2
        result, recovered = asyncio.run(run(stack, args))
        code = 0 if result.findings.clean and recovered else 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        code = 130
    finally:
        log("stopping the stack")
        with contextlib.suppress(Exception):
            stack.stop()
    if result is None:
        print(f"logs kept in {stack.logs}", file=sys.stderr)
        return code or 1
    result.wall_s = time.monotonic() - START
    (tmp / "results.json").write_text(json.dumps(as_json(result), indent=2) + "\n")
    print(render(result))
    if code == 0 and not args.keep:
        shutil.rmtree(tmp, ignore_errors=True)
    else:
        print(f"  logs and results.json kept in {tmp}")
    print(last_line(result), flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
