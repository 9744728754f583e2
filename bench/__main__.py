"""`python -m bench [--quick]`: start a stack of its own, measure, print a table, write results.json, stop.

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
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

import httpx

from bench.api import Api
from bench.latency import acceptance, inbox_latency
from bench.memory import cpu_seconds, cpu_share, facts, memory
from bench.report import render, targets
from bench.throughput import deliveries
from devstack.stack import REPO, SERVICES, Ports, Stack

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
    p.add_argument(
        "--orders", type=int, default=60, help="orders for acceptance → completed (half sequential)"
    )
    p.add_argument("--inbox-orders", type=int, default=100, help="payments timed to the in-site message")
    p.add_argument("--pay-orders", type=int, default=200, help="payments for the delivery throughput")
    p.add_argument("--pay-concurrency", type=int, default=16)
    p.add_argument("--quick", action="store_true", help="small numbers for a smoke run (< 90 s)")
    p.add_argument(
        "--fast-polls", action="store_true", help="the e2e suite's 0.2 s relay/dispatch poll intervals"
    )
    p.add_argument(
        "--budget",
        type=float,
        default=0.0,
        help="seconds after which phase 3 stops waiting (default 225, or 80 with --quick)",
    )
    p.add_argument(
        "--keep", action="store_true", help="keep the temp dir with the service logs after a good run"
    )
    p.add_argument("--out", type=Path, default=OUT)
    args = p.parse_args(argv)
    if args.quick:
        args.orders, args.inbox_orders, args.pay_orders = 10, 10, 30
    args.budget = args.budget or (80.0 if args.quick else 225.0)
    return args


async def measure(stack: Stack, args: argparse.Namespace, results: dict[str, Any]) -> None:
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    async with httpx.AsyncClient(timeout=30, limits=limits) as http:
        api = Api(stack, http)
        log(f"1. acceptance → completed: {args.orders} orders")
        cpu0, t0 = cpu_seconds(stack), time.monotonic()
        results["acceptance"] = await acceptance(api, args.orders, log, lambda: cpu_seconds(stack))
        results["acceptance"]["cpu_cores"] = cpu_share(cpu0, cpu_seconds(stack), time.monotonic() - t0)
        log(f"2. order.paid → in-site message: {args.inbox_orders} orders")
        cpu0, t0 = cpu_seconds(stack), time.monotonic()
        results["inbox"] = await inbox_latency(api, args.inbox_orders, log)
        results["inbox"]["cpu_cores"] = cpu_share(cpu0, cpu_seconds(stack), time.monotonic() - t0)
        log(f"3. notification deliveries: {args.pay_orders} orders")
        # Stop waiting for the last sends when the run's time budget is spent (a busy machine): the rate over
        # the window is still the figure.
        cap = max(30.0, args.budget - (time.monotonic() - START))
        results["deliveries"] = await deliveries(
            api, args.pay_orders, args.pay_concurrency, log, lambda: cpu_seconds(stack), cap
        )
    log("4. memory")
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
