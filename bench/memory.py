"""Measurement 4 and machine facts: resident memory of each process tree against its k8s memory limit."""

from __future__ import annotations

import asyncio
import contextlib
import importlib.metadata
import os
import platform
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from devstack.mongo import VERSION as SECANTUS_RUST
from devstack.stack import REPO, SERVICES, Stack

BYTES = {"": 1, "Ki": 1024, "Mi": 1024**2, "Gi": 1024**3, "K": 10**3, "M": 10**6, "G": 10**9}


def to_mib(quantity: str) -> float:
    match = re.fullmatch(r"([0-9.]+)([A-Za-z]*)", quantity.strip())
    if match is None:
        raise ValueError(f"not a memory quantity: {quantity!r}")
    return float(match[1]) * BYTES[match[2]] / 1024**2


def k8s_limits(base: Path = REPO / "deploy" / "k8s" / "base") -> dict[str, float]:
    """resources.limits.memory of each service's container, in MiB, from deploy/k8s/base/<service>.yaml."""
    limits: dict[str, float] = {}
    for name in SERVICES:
        path = base / f"{name}.yaml"
        if not path.exists():
            continue
        for doc in yaml.safe_load_all(path.read_text()):
            if not isinstance(doc, dict) or doc.get("kind") != "Deployment":
                continue
            for c in doc["spec"]["template"]["spec"].get("containers", []):
                memory = (c.get("resources") or {}).get("limits", {}).get("memory")
                if memory and (c.get("name") == name or name not in limits):
                    limits[name] = to_mib(str(memory))
    return limits


def _children(pid: int) -> list[int]:
    kids: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        try:
            kids += [int(k) for k in task.read_text().split()]
        except OSError:
            continue
    return kids


def _rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def rss_tree(pid: int) -> tuple[float, int]:
    """(RSS in MiB of the process and all its descendants, number of processes)."""
    todo, seen = [pid], []
    while todo:
        p = todo.pop()
        seen.append(p)
        todo += _children(p)
    return sum(_rss_kib(p) for p in seen) / 1024, len(seen)


def _cpu_ticks(pid: int) -> int:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0
    return int(fields[11]) + int(fields[12])  # utime + stime (fields 14 and 15 of proc(5))


def processes(stack: Stack) -> dict[str, int]:
    """The pids the stack owns by name, plus this process as "bench" (it polls, so it costs CPU too)."""
    pids = {name: proc.pid for name, proc in stack.services.items()}
    for name, part in (("kafka", stack.kafka), ("secantusdb", stack.mongo)):
        if part is not None and part.proc is not None:
            pids[name] = part.proc.pid
    if stack.mailpit is not None and stack.mailpit.proc is not None:
        pids["mailpit"] = stack.mailpit.proc.pid
    if stack.sms is not None:
        pids["sms-sink"] = stack.sms.pid
    return {**pids, "bench": os.getpid()}


def _machine_busy_ticks() -> int:
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:9]
    except OSError:
        return 0
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(f) for f in fields)
    return user + nice + system + irq + softirq + steal


def cpu_seconds(stack: Stack) -> dict[str, float]:
    """CPU seconds (user + system) used so far by each process tree of the stack, and by everything else on
    the
    machine as "other" (other people's test runs compete for the same two cores)."""
    hz = os.sysconf("SC_CLK_TCK")
    out: dict[str, float] = {}
    for name, pid in processes(stack).items():
        todo, ticks = [pid], 0
        while todo:
            p = todo.pop()
            ticks += _cpu_ticks(p)
            if name != "bench":  # the stack's processes are this process's children: count them once
                todo += _children(p)
        out[name] = ticks / hz
    out["other"] = _machine_busy_ticks() / hz - sum(out.values())
    return out


def cpu_share(before: dict[str, float], after: dict[str, float], wall: float) -> dict[str, float]:
    """Average cores each process used between two `cpu_seconds` snapshots, busiest first."""
    share = {k: round((after.get(k, 0.0) - v) / max(wall, 1e-6), 2) for k, v in before.items()}
    return dict(sorted(share.items(), key=lambda kv: -kv[1]))


def memory(stack: Stack) -> dict[str, Any]:
    limits = k8s_limits()
    out: dict[str, Any] = {}
    for name, proc in stack.services.items():
        mib, procs = rss_tree(proc.pid)
        limit = limits.get(name)
        out[name] = {
            "rss_mib": round(mib, 1),
            "processes": procs,
            "limit_mib": limit,
            "ratio_to_limit": round(mib / limit, 3) if limit else None,
        }
    for name, node in (("kafka", stack.kafka), ("secantusdb", stack.mongo)):
        if node is None or node.proc is None:
            out[name] = {"rss_mib": None, "external": True}
            continue
        mib, procs = rss_tree(node.proc.pid)
        out[name] = {"rss_mib": round(mib, 1), "processes": procs, "limit_mib": None, "ratio_to_limit": None}
    return out


class PeakRss:
    """Samples each service's RSS (its process tree) about once a second while a phase runs; keeps the
    peak."""

    def __init__(self, stack: Stack, every: float = 1.0) -> None:
        self.stack, self.every = stack, every
        self.peak: dict[str, float] = {}
        self.samples = 0
        self._task: asyncio.Task[None] | None = None

    def sample(self) -> None:
        for name, proc in self.stack.services.items():
            mib, _ = rss_tree(proc.pid)
            self.peak[name] = max(self.peak.get(name, 0.0), mib)
        self.samples += 1

    async def _run(self) -> None:
        while True:
            self.sample()
            await asyncio.sleep(self.every)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="rss-sampler")

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
        self.sample()

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def peaks(self) -> dict[str, Any]:
        limits = k8s_limits()
        return {
            name: {
                "peak_rss_mib": round(mib, 1),
                "limit_mib": limits.get(name),
                "half_limit_mib": limits[name] / 2 if name in limits else None,
                "samples": self.samples,
            }
            for name, mib in self.peak.items()
        }


def _git(*args: str) -> str:
    try:
        done = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, timeout=10)  # noqa: S603,S607
    except (OSError, subprocess.SubprocessError):
        return ""
    return done.stdout.strip() if done.returncode == 0 else ""


def facts(stack: Stack, env: dict[str, str], load: tuple[float, float, float]) -> dict[str, Any]:
    pom = (REPO / "infra" / "kafka" / "pom.xml").read_text()
    kafka = re.search(r"<kafka\.version>([^<]+)</kafka\.version>", pom)
    kind = stack.mongo.server.kind if stack.mongo is not None and stack.mongo.server is not None else None
    if kind == "rust":
        secantus = f"{SECANTUS_RUST} (Rust server)"
    else:
        try:
            secantus = importlib.metadata.version("secantusdb") + " (Python server)"
        except importlib.metadata.PackageNotFoundError:
            secantus = "not installed"
    return {
        "cores": os.cpu_count(),
        "loadavg_at_start": [round(x, 2) for x in load],
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "kafka_jar_version": kafka[1] if kafka else "unknown",
        "secantusdb_version": secantus,
        "kafka_external": stack.kafka is None,
        "mongodb_external": stack.mongo is None,
        "secantus_server": kind or "external",
        "git_head": _git("rev-parse", "--short", "HEAD") or "unknown",
        "git_uncommitted_files": len(_git("status", "--porcelain").splitlines()),
        "service_env": env,
    }
