"""devstack's once-per-machine build of SecantusDB's Rust server, with a stand-in `cargo`: the staging root renamed
into place, the fallback to the Python server announced when the build fails, and a failure remembered."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from devstack import mongo

CARGO = """#!/bin/sh
echo "$@" >> "{calls}"
echo "   Compiling secantus-storage v0.5.3-beta.196"
{body}
"""


def fake_cargo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, body: str) -> Path:
    tools, calls = tmp_path / "tools", tmp_path / "calls"
    tools.mkdir()
    cargo = tools / "cargo"
    cargo.write_text(CARGO.format(calls=calls, body=body))
    cargo.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tools}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("KOO_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("SECANTUS_SERVER", raising=False)
    return calls


def test_a_build_goes_to_a_staging_root_then_into_place(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # cargo install --root <staging>: the last argument is the root it installs into
    calls = fake_cargo(
        tmp_path, monkeypatch, 'for root; do :; done; mkdir -p "$root/bin" && touch "$root/bin/secantusd-rs"'
    )
    first = mongo.server()
    assert first == mongo.Server(
        tmp_path / "cache" / "secantus-mdb-0.5.3-beta.196" / "bin" / "secantusd-rs", "rust"
    )
    assert calls.read_text().split()[:6] == [
        "install",
        "secantus-mdb",
        "--version",
        "0.5.3-beta.196",
        "--locked",
        "--ignore-rust-version",
    ]
    assert calls.read_text().split()[-1].endswith(".partial")
    assert not (tmp_path / "cache" / "secantus-mdb-0.5.3-beta.196.partial").exists()
    out = capsys.readouterr().out
    assert "building SecantusDB's Rust server" in out
    assert "cargo install: done in" in out
    assert mongo.server() == first  # found, not built again
    assert len(calls.read_text().splitlines()) == 1


def test_a_failed_build_falls_back_loudly_and_is_not_retried(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    calls = fake_cargo(tmp_path, monkeypatch, "echo 'error: linking failed'; exit 101")
    assert mongo.server().kind == "python"
    err = capsys.readouterr().err
    assert "FALLING BACK to the Python server" in err
    assert "exit code 101" in err
    assert "p99 516 ms instead of 143 ms" in err  # what the fallback costs
    assert mongo.server().kind == "python"  # remembered: no second build of several minutes
    assert len(calls.read_text().splitlines()) == 1
    assert "an earlier build failed" in capsys.readouterr().err
    monkeypatch.setenv("SECANTUS_SERVER", "rust")  # asked for explicitly: tried again, and an error
    with pytest.raises(RuntimeError, match="exit code 101"):
        mongo.server()
    assert len(calls.read_text().splitlines()) == 2


def test_without_cargo_or_by_choice_the_python_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("KOO_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("PATH", str(tmp_path))  # no cargo here
    monkeypatch.delenv("SECANTUS_SERVER", raising=False)
    assert mongo.server().kind == "python"
    assert "cargo is not installed" in capsys.readouterr().err
    monkeypatch.setenv("SECANTUS_SERVER", "python")
    assert mongo.server() == mongo.python_server()
    assert "FALLING BACK" not in capsys.readouterr().err
    monkeypatch.setenv("SECANTUS_SERVER", "mongod")
    with pytest.raises(SystemExit, match="expected one of auto, rust, python"):
        mongo.server()
