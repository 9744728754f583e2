"""Where the CPU goes during a run: each process of the stack sampled from /proc, restarts included.

A killed and restarted replica is a new process: its CPU is kept per (name, pid), so nothing counts backwards.
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

from devstack.stack import Stack

HZ = os.sysconf("SC_CLK_TCK")


def _ticks(pid: int) -> int:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0
    return int(fields[11]) + int(fields[12])  # utime + stime


def _children(pid: int) -> list[int]:
    kids: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        try:
            kids += [int(k) for k in task.read_text().split()]
        except OSError:
            continue
    return kids


def _tree(pid: int) -> list[int]:
    todo, seen = [pid], []
    while todo:
        p = todo.pop()
        seen.append(p)
        todo += _children(p)
    return seen


def processes(stack: Stack) -> dict[str, int]:
    pids = {name: proc.pid for name, proc in stack.services.items()}
    for name, node in (
        ("kafka", stack.kafka),
        ("secantusdb", stack.mongo),
        ("keycloak", stack.keycloak),
        ("mailpit", stack.mailpit),
    ):
        if node is not None and node.proc is not None:
            pids[name] = node.proc.pid
    if stack.sms is not None:
        pids["sms-sink"] = stack.sms.pid
    return pids


class CpuMeter:
    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.seen: dict[tuple[str, int], int] = {}  # (name, pid) -> ticks at the last sample
        self.used: dict[str, int] = {}  # name -> ticks used since the meter started
        self.started = time.monotonic()

    def sample(self) -> None:
        named = {**processes(self.stack), "harness": os.getpid()}
        for name, pid in named.items():
            pids = [pid] if name == "harness" else _tree(pid)
            for p in pids:
                now = _ticks(p)
                before = self.seen.get((name, p))
                self.seen[(name, p)] = now
                if before is not None and now >= before:
                    self.used[name] = self.used.get(name, 0) + now - before
                elif before is None:
                    self.used.setdefault(name, 0)

    async def run(self, every: float = 5.0) -> None:
        while True:
            self.sample()
            await asyncio.sleep(every)

    def cores(self) -> dict[str, float]:
        """Average cores used by each process since the meter started, busiest first."""
        wall = max(1e-6, time.monotonic() - self.started)
        share = {name: ticks / HZ / wall for name, ticks in self.used.items()}
        return dict(sorted(share.items(), key=lambda kv: -kv[1]))
