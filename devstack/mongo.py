"""SecantusDB (PyPI): a MongoDB-wire server on WiredTiger with transactions and change streams.

It advertises itself as a single-node replica-set primary, so drivers allow multi-document transactions.
Data lives under the given folder and survives restarts.
"""

from __future__ import annotations

import sys
from pathlib import Path

from devstack.procs import Proc, port_open, spawn, wait_until


class SecantusNode:
    def __init__(self, data: Path, port: int) -> None:
        self.data, self.port = data, port
        self.proc: Proc | None = None

    @property
    def uri(self) -> str:
        # directConnection: one node, and the driver must not go looking for other members.
        return f"mongodb://127.0.0.1:{self.port}/?directConnection=true"

    def start(self, log_dir: Path, timeout: float = 60.0) -> Proc:
        self.data.mkdir(parents=True, exist_ok=True)
        server = Path(sys.executable).parent / "secantusd-py"
        argv = [str(server), "--host", "127.0.0.1", "--port", str(self.port),
                "--storage-path", str(self.data), "--log-level", "WARNING", "--cache-size", "512M"]
        self.proc = spawn("secantusdb", argv, log_dir)
        proc = self.proc
        wait_until(lambda: port_open(self.port), timeout, "secantusdb", proc)
        return proc

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.stop(timeout=20)
