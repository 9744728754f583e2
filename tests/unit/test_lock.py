"""The locks (`make lock`) against pyproject.toml: a dependency added, removed or re-pinned in pyproject.toml without
re-locking fails here, as does a lock entry without a hash or a dev tool in the image's runtime lock."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

REPO = Path(__file__).resolve().parents[2]
RUNTIME_LOCK = REPO / "requirements.lock"
DEV_LOCK = REPO / "requirements-dev.lock"
PROJECT = "koo-supervision-suite"
# What the locks are made for (`make lock`): CPython 3.11 on linux x86_64, the image's and CI's platform.
TARGET = {
    "python_version": "3.11",
    "python_full_version": "3.11.0",
    "implementation_name": "cpython",
    "platform_python_implementation": "CPython",
    "sys_platform": "linux",
    "platform_system": "Linux",
    "platform_machine": "x86_64",
    "os_name": "posix",
}

_PIN = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==(?P<version>[^\s;\\]+)")
_HASH = re.compile(r"--hash=sha256:[0-9a-f]{64}")


@dataclass
class Pin:
    version: Version
    hashes: int = 0
    via: list[str] = field(default_factory=list)


def parse_lock(text: str) -> dict[str, Pin]:
    """`name==version \\` lines, each followed by its `--hash=` lines and `# via` annotations (uv's format)."""
    pins: dict[str, Pin] = {}
    current: Pin | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if match := _PIN.match(raw):
            current = pins.setdefault(canonicalize_name(match["name"]), Pin(Version(match["version"])))
        elif current is not None and _HASH.search(line):
            current.hashes += 1
        elif current is not None and line.startswith("#"):
            via = line.lstrip("#").strip().removeprefix("via").strip()
            if via:
                current.via.append(via)
        elif line and not line.startswith("#"):
            raise AssertionError(f"unexpected lock line: {raw!r}")
    return pins


def project_requirements() -> tuple[list[Requirement], list[Requirement]]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    runtime = [Requirement(r) for r in project["dependencies"]]
    dev = [Requirement(r) for r in project["optional-dependencies"]["dev"]]
    return runtime, dev


def applies(req: Requirement) -> bool:
    return req.marker is None or req.marker.evaluate(dict(TARGET))


def drift(reqs: list[Requirement], lock: dict[str, Pin], lock_name: str) -> list[str]:
    """Each requirement (for the target platform) is in the lock at a version its specifier allows."""
    problems = []
    for req in filter(applies, reqs):
        pin = lock.get(canonicalize_name(req.name))
        if pin is None:
            problems.append(f"{req} is not in {lock_name}: run `make lock`")
        elif not req.specifier.contains(pin.version, prereleases=True):
            problems.append(f"{req} but {lock_name} pins {pin.version}: run `make lock`")
    return problems


@pytest.fixture(scope="module")
def runtime_lock() -> dict[str, Pin]:
    return parse_lock(RUNTIME_LOCK.read_text())


@pytest.fixture(scope="module")
def dev_lock() -> dict[str, Pin]:
    return parse_lock(DEV_LOCK.read_text())


def test_every_runtime_dependency_is_pinned_in_both_locks(
    runtime_lock: dict[str, Pin], dev_lock: dict[str, Pin]
) -> None:
    runtime, _ = project_requirements()
    assert drift(runtime, runtime_lock, RUNTIME_LOCK.name) == []
    assert drift(runtime, dev_lock, DEV_LOCK.name) == []


def test_every_dev_dependency_is_pinned_in_the_dev_lock(dev_lock: dict[str, Pin]) -> None:
    _, dev = project_requirements()
    assert drift(dev, dev_lock, DEV_LOCK.name) == []


def test_every_pin_carries_hashes(runtime_lock: dict[str, Pin], dev_lock: dict[str, Pin]) -> None:
    for name, lock in ((RUNTIME_LOCK.name, runtime_lock), (DEV_LOCK.name, dev_lock)):
        assert lock, f"{name} pins nothing"
        assert [p for p, pin in lock.items() if pin.hashes == 0] == [], f"{name}: pins without a hash"


def test_the_image_runs_the_versions_the_tests_ran(
    runtime_lock: dict[str, Pin], dev_lock: dict[str, Pin]
) -> None:
    """The runtime lock is constrained to the dev lock: same version of every package in both."""
    assert {n: str(p.version) for n, p in runtime_lock.items()} == {
        n: str(dev_lock[n].version) for n in runtime_lock if n in dev_lock
    }


def test_the_runtime_lock_holds_nothing_that_only_the_dev_extra_asks_for(
    runtime_lock: dict[str, Pin],
) -> None:
    """Each runtime pin is asked for by a runtime requirement or by another runtime pin (never a test tool)."""
    runtime, _ = project_requirements()
    direct = {canonicalize_name(r.name) for r in runtime if applies(r)}
    for name, pin in runtime_lock.items():
        sources = [v for v in pin.via if not v.startswith("-c ")]
        assert sources, f"{name}: nothing in the runtime asks for it"
        for source in sources:
            parent = canonicalize_name(source.split(" ")[0])
            if parent == PROJECT:
                assert name in direct, f"{name} is pinned as a runtime requirement but pyproject says dev"
            else:
                assert parent in runtime_lock, f"{name} comes from {source}, which is not a runtime package"


def test_the_lock_parser_reads_uv_output() -> None:
    """The parser itself, on a small uv-shaped lock (so a format change cannot pass the checks above vacuously)."""
    text = (
        "# This file was autogenerated by uv via the following command:\n"
        "#    make lock\n"
        "Jinja2==3.1.6 \\\n"
        f"    --hash=sha256:{'a' * 64} \\\n"
        f"    --hash=sha256:{'b' * 64}\n"
        "    # via koo-supervision-suite (pyproject.toml)\n"
        "markupsafe==3.0.4 \\\n"
        f"    --hash=sha256:{'c' * 64}\n"
        "    # via\n"
        "    #   -c requirements-dev.lock\n"
        "    #   jinja2\n"
    )
    lock = parse_lock(text)
    assert set(lock) == {"jinja2", "markupsafe"}
    assert (lock["jinja2"].version, lock["jinja2"].hashes) == (Version("3.1.6"), 2)
    assert lock["markupsafe"].via == ["-c requirements-dev.lock", "jinja2"]
    assert drift([Requirement("jinja2==3.1.5")], lock, "x") == [
        "jinja2==3.1.5 but x pins 3.1.6: run `make lock`"
    ]
    assert drift([Requirement("missing==1.0")], lock, "x") == ["missing==1.0 is not in x: run `make lock`"]
    assert (
        drift([Requirement("jinja2==3.*"), Requirement("winonly==1; sys_platform == 'win32'")], lock, "x")
        == []
    )
