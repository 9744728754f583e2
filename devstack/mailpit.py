"""Mailpit, the dev stack's mail sink: an SMTP server, a web UI and a REST API over what it received.

It is the Go module `github.com/axllent/mailpit`, pinned below, built once per machine into the cache outside
the clone (`devstack.cache`), under a lock and with progress. `go install` alone gives a binary whose web UI
assets answer 404: they are built by esbuild from the module's own sources. So the build copies the module's
source out of Go's module cache, runs `npm install` and `npm run build` there, then `go build`.

The npm pins are the module's own `package.json` / `package-lock.json`, kept in `infra/mailpit/` with two
versions moved because the registry does not serve the locked ones: rapidoc 12.1.0 -> 9.3.8 (the API docs
page's viewer) and sass-embedded 1.108.1 -> 1.108.2. Without npm, or when that step fails, the binary is built
without its UI (SMTP and the API work), and every start says so.

Each stack runs its own Mailpit on its own ports with its own database file; `--enable-chaos` lets tests and
the chaos harness inject SMTP failures (`devstack.mailbox.Mailbox.smtp_outage`).
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import urllib.request
from pathlib import Path

from devstack.cache import BuildFailed, banner, cache_root, locked, minutes, run_step, say
from devstack.procs import Proc, port_open, spawn, wait_until

MODULE, VERSION = "github.com/axllent/mailpit", "v1.33.1"
PINS = Path(__file__).resolve().parent.parent / "infra" / "mailpit"


def home() -> Path:
    return cache_root() / f"mailpit-{VERSION}"


def binary() -> Path:
    return home() / "bin" / "mailpit"


def _no_ui() -> Path:
    return home() / "NO-UI"  # written when the UI could not be built; its text says why


def _writable_copy(source: Path, target: Path) -> None:
    """Go's module cache is read-only; the build writes node_modules and the UI bundle into the copy."""
    shutil.copytree(source, target, copy_function=shutil.copyfile)
    for folder, _, _ in os.walk(target):
        Path(folder).chmod(stat.S_IRWXU | stat.S_IRGRP | stat.S_IXGRP | stat.S_IROTH | stat.S_IXOTH)


def build() -> Path:
    """The binary, built once per machine: module source -> npm UI bundle -> go build, into a staging
    folder."""
    if binary().exists():
        return binary()
    with locked(home().with_name(home().name + ".lock")):
        if binary().exists():
            return binary()
        go = shutil.which("go")
        if go is None:
            raise RuntimeError(f"Mailpit ({MODULE} {VERSION}) is built with Go, which is not installed")
        staging = home().with_name(home().name + ".partial")
        log = home().with_name(home().name + ".build.log")
        shutil.rmtree(staging, ignore_errors=True)
        log.unlink(missing_ok=True)
        say(
            f"building Mailpit {VERSION} with its web UI into {home()}: once per machine, about a minute; "
            f"log: {log}"
        )
        total = 0.0
        fetched = subprocess.run(
            [go, "mod", "download", "-json", f"{MODULE}@{VERSION}"],
            cwd=cache_root(),
            capture_output=True,
            text=True,
            check=False,
        )
        if fetched.returncode != 0:
            raise RuntimeError(
                f"go mod download {MODULE}@{VERSION} failed: {fetched.stderr or fetched.stdout}"
            )
        src = staging / "src"
        _writable_copy(Path(json.loads(fetched.stdout)["Dir"]), src)
        no_ui = ""
        npm = shutil.which("npm")
        if npm is None:
            no_ui = "npm is not installed"
        else:
            for name in ("package.json", "package-lock.json"):
                shutil.copyfile(PINS / name, src / name)
            try:
                total += run_step(
                    "npm install (the web UI's build tools)",
                    [npm, "install", "--no-audit", "--no-fund"],
                    log,
                    cwd=src,
                )
                total += run_step("npm run build (the web UI)", [npm, "run", "build"], log, cwd=src)
            except BuildFailed as exc:
                no_ui = str(exc)
        flags = f"-s -w -X {MODULE}/config.Version={VERSION}"
        total += run_step(
            "go build",
            [go, "build", "-v", "-trimpath", "-ldflags", flags, "-o", str(staging / "bin" / "mailpit"), "."],
            log,
            cwd=src,
            env={"CGO_ENABLED": "0"},
            progress="/",
        )
        shutil.rmtree(src)
        if no_ui:
            (staging / "NO-UI").write_text(no_ui + "\n")
        shutil.rmtree(home(), ignore_errors=True)
        staging.rename(home())
        say(f"Mailpit is built ({minutes(total)}): {binary()}")
    return binary()


class MailpitNode:
    def __init__(self, state: Path, smtp_port: int, http_port: int) -> None:
        self.state, self.smtp_port, self.http_port = state, smtp_port, http_port
        self.proc: Proc | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/readyz", timeout=2) as resp:  # noqa: S310 - loopback
                return bool(resp.status == 200) and port_open(self.smtp_port)
        except OSError:
            return False

    def start(self, log_dir: Path, name: str = "mailpit", timeout: float = 30.0) -> Proc:
        program = build()
        if _no_ui().exists():
            banner(
                "Mailpit runs WITHOUT its web UI (SMTP and the REST API work)",
                f"The UI could not be built: {_no_ui().read_text().strip()}",
                f"Delete {home()} to build it again.",
            )
        self.state.mkdir(parents=True, exist_ok=True)
        argv = [
            str(program),
            "--smtp",
            f"127.0.0.1:{self.smtp_port}",
            "--listen",
            f"127.0.0.1:{self.http_port}",
            "--database",
            str(self.state / "mailpit.db"),
            "--max",
            "0",  # keep every message (the default prunes beyond 500)
            "--enable-chaos",  # SMTP fault injection through /api/v1/chaos
            "--smtp-auth-accept-any",
            "--smtp-auth-allow-insecure",  # no auth, or any, as dev SMTP needs
            "--smtp-disable-rdns",
            "--disable-version-check",
        ]  # nothing leaves the machine
        self.proc = spawn(name, argv, log_dir)
        proc = self.proc
        wait_until(self.ready, timeout, name, proc)
        return proc

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.stop(timeout=10)
