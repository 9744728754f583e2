"""SecantusDB: a MongoDB-wire server on WiredTiger with transactions and change streams.

The local default is its Rust server (`secantusd-rs` from the crate `secantus-mdb`, pinned below). It is built
once per machine with cargo into the cache outside the clone (`devstack.cache`), under a lock and with
progress; a build takes 6 to 12 CPU-minutes. The Python server (`secantusd-py`, PyPI `secantusdb`, in the dev
extra) is the fallback: chosen with `SECANTUS_SERVER=python`, or taken when cargo is missing or the build
failed, and then announced with a banner, because it is several times slower (the figures are in
`FALLBACK_COST`).

`SECANTUS_SERVER`: `auto` (default: Rust, else the fallback), `rust` (Rust or an error), `python`.
Both servers take the same flags and advertise a single-node replica-set primary, so drivers allow
multi-document transactions. Data lives under the given folder and survives restarts.
"""

from __future__ import annotations

import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from devstack.cache import BuildFailed, banner, cache_root, locked, minutes, run_step, say
from devstack.procs import Proc, port_open, spawn, wait_until

CRATE, VERSION, BINARY = "secantus-mdb", "0.5.3-beta.196", "secantusd-rs"
CHOICES = ("auto", "rust", "python")
FALLBACK_COST = (
    "The Python server is several times slower: on `make bench`, accept -> completed p99 516 ms instead "
    "of 143 ms, pay -> in-site p99 1,147 ms instead of 378 ms, e-mails and SMS 3.7/s instead of 21/s."
)


@dataclass(frozen=True)
class Server:
    path: Path
    kind: str  # "rust" or "python"

    @property
    def label(self) -> str:
        return (
            f"SecantusDB Rust server {VERSION}"
            if self.kind == "rust"
            else "SecantusDB Python server (fallback)"
        )


def rust_home() -> Path:
    return cache_root() / f"{CRATE}-{VERSION}"


def rust_binary() -> Path:
    return rust_home() / "bin" / BINARY


def _marker() -> Path:
    """Written when a build failed, so that every later stack does not spend its minutes again."""
    return rust_home().with_name(rust_home().name + ".failed")


def python_server() -> Server:
    return Server(Path(sys.executable).parent / "secantusd-py", "python")


def build_rust(retry_failed: bool = False) -> Path:
    """The Rust server's binary, built once per machine (`cargo install` into a staging root, then
    renamed)."""
    home, binary = rust_home(), rust_binary()
    if binary.exists():
        return binary
    with locked(home.with_name(home.name + ".lock")):
        if binary.exists():  # another stack built it while this one waited for the lock
            return binary
        if _marker().exists() and not retry_failed:
            raise RuntimeError(
                f"an earlier build failed ({_marker().read_text().strip()}); delete {_marker()} to try again"
            )
        cargo = shutil.which("cargo")
        if cargo is None:
            raise RuntimeError("cargo is not installed")
        staging = home.with_name(home.name + ".partial")
        log = home.with_name(home.name + ".build.log")
        shutil.rmtree(staging, ignore_errors=True)
        log.unlink(missing_ok=True)
        say(
            f"building SecantusDB's Rust server ({CRATE} {VERSION}) into {home}: once per machine, "
            f"6 to 12 CPU-minutes (3 to 10 minutes on 2 cores); log: {log}"
        )
        try:
            took = run_step(
                "cargo install",
                [
                    cargo,
                    "install",
                    CRATE,
                    "--version",
                    VERSION,
                    "--locked",
                    # the crate declares a newer rust-version than it needs
                    "--ignore-rust-version",
                    "--root",
                    str(staging),
                ],
                log,
                progress="Compiling",
            )
        except BuildFailed as exc:
            _marker().write_text(str(exc))
            raise
        shutil.rmtree(home, ignore_errors=True)  # e.g. an interrupted build's leftovers
        staging.rename(home)
        _marker().unlink(missing_ok=True)
        say(f"SecantusDB's Rust server is built ({minutes(took)}): {binary}")
    return binary


def server() -> Server:
    """The server this machine runs, building the Rust one first when it is missing."""
    choice = (os.environ.get("SECANTUS_SERVER") or "auto").strip().lower()
    if choice not in CHOICES:
        raise SystemExit(f"SECANTUS_SERVER={choice!r}: expected one of {', '.join(CHOICES)}")
    if choice == "python":
        print(
            f"SecantusDB: the Python server, as SECANTUS_SERVER=python asks. {FALLBACK_COST}",
            file=sys.stderr,
            flush=True,
        )
        return python_server()
    try:
        return Server(build_rust(retry_failed=choice == "rust"), "rust")
    except (RuntimeError, OSError) as exc:
        if choice == "rust":
            raise
        banner(
            "SecantusDB: FALLING BACK to the Python server",
            f"The Rust server ({CRATE} {VERSION}) is not available: {exc}",
            FALLBACK_COST,
            "SECANTUS_SERVER=python chooses the Python server knowingly (one line instead of this banner); "
            "SECANTUS_SERVER=rust makes a missing Rust server an error.",
        )
        return python_server()


class SecantusNode:
    def __init__(self, data: Path, port: int) -> None:
        self.data, self.port = data, port
        self.proc: Proc | None = None
        self.server: Server | None = None

    @property
    def uri(self) -> str:
        # directConnection: one node, and the driver must not go looking for other members.
        return f"mongodb://127.0.0.1:{self.port}/?directConnection=true"

    def start(self, log_dir: Path, timeout: float = 60.0) -> Proc:
        self.data.mkdir(parents=True, exist_ok=True)
        self.server = self.server or server()
        argv = [
            str(self.server.path),
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--storage-path",
            str(self.data),
            "--log-level",
            "WARNING",
            "--cache-size",
            "512M",
        ]
        self.proc = spawn("secantusdb", argv, log_dir)
        proc = self.proc
        wait_until(lambda: port_open(self.port), timeout, "secantusdb", proc)
        return proc

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.stop(timeout=20)
