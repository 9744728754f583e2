"""The services serve on uvloop where it is installed, and on asyncio's loop where it is not."""

from __future__ import annotations

import sys

import pytest

from shared.platform.runtime import event_loop

pytestmark = pytest.mark.unit


def test_uvloop_is_chosen_when_installed() -> None:
    assert "uvloop" in {d.split("==")[0] for d in _dependencies()}
    assert event_loop() == "uvloop"


def _dependencies() -> list[str]:
    import tomllib
    from pathlib import Path

    pyproject = Path(__file__).resolve().parents[2] / "pyproject.toml"
    return list(tomllib.loads(pyproject.read_text())["project"]["dependencies"])


def test_asyncios_loop_is_the_fallback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "uvloop", None)  # as if it were not installed: the import fails
    assert event_loop() == "asyncio"
