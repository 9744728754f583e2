"""The image's recipe, read as text (there is no Docker engine to build it here): a pinned base, two stages, the
locked runtime dependencies installed with their hashes, no dev tools, a non-root user, a tight build context."""

from __future__ import annotations

import fnmatch
import re
import shlex
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
APP_UID = 10001  # the user the Deployments' securityContext expects (tests/unit/test_k8s_manifests.py)
# An exact CPython patch release on a named Debian release, optionally with a digest.
PINNED_BASE = re.compile(
    r"^python:(?P<python>3\.\d+)\.\d+-(?:slim-)?(?:bookworm|trixie|bullseye)(?:@sha256:[0-9a-f]{64})?$"
)


@dataclass
class Stage:
    image: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def args(self, keyword: str) -> list[str]:
        return [a for k, a in self.instructions if k == keyword]


def instructions(text: str) -> list[tuple[str, str]]:
    """(KEYWORD, arguments) per instruction, continuation lines joined and comments dropped."""
    out, pending = [], ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        keyword, _, rest = (pending + line).partition(" ")
        out.append((keyword.upper(), rest.strip()))
        pending = ""
    assert not pending, "the Dockerfile ends inside a continued line"
    return out


def stages(text: str) -> list[Stage]:
    """The build stages, with `ARG` defaults declared before the first FROM substituted into its image."""
    defaults: dict[str, str] = {}
    found: list[Stage] = []
    for keyword, rest in instructions(text):
        if keyword == "ARG" and not found:
            name, _, value = rest.partition("=")
            defaults[name] = value
        elif keyword == "FROM":
            words = [w for w in rest.split() if not w.startswith("--platform")]
            image = re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: defaults[m[1] or m[2]], words[0])
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
            found.append(Stage(image, name))
        else:
            assert found or keyword in ("ARG",), f"{keyword} before the first FROM"
            if found:
                found[-1].instructions.append((keyword, rest))
    return found


@pytest.fixture(scope="module")
def dockerfile() -> list[Stage]:
    return stages((REPO / "Dockerfile").read_text())


def test_every_stage_starts_from_a_pinned_base_of_the_projects_python(dockerfile: list[Stage]) -> None:
    requires = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["requires-python"]
    for stage in dockerfile:
        match = PINNED_BASE.match(stage.image)
        assert match, f"{stage.image!r}: pin an exact Python patch release and Debian release"
        assert f">={match['python']}" in requires, f"{stage.image} is not the Python of {requires}"


def test_it_is_multi_stage_and_the_last_stage_takes_only_the_venv_from_the_build(
    dockerfile: list[Stage],
) -> None:
    assert len(dockerfile) >= 2
    build, final = dockerfile[0], dockerfile[-1]
    assert build.name
    copies = final.args("COPY")
    assert f"--from={build.name} /opt/venv /opt/venv" in copies
    for copy in copies:
        sources = [w for w in shlex.split(copy) if not w.startswith("--")][:-1]
        assert not {".", "./"} & set(sources), "the whole context would land in the image"
        assert not any(s.startswith("requirements") or s == "pyproject.toml" for s in sources)


def test_the_build_installs_the_runtime_lock_with_hashes_and_nothing_else(dockerfile: list[Stage]) -> None:
    build = dockerfile[0]
    pip = [run for run in build.args("RUN") if "pip install" in run]
    assert len(pip) == 1, pip
    words = shlex.split(pip[0])
    assert "--require-hashes" in words
    assert "--no-deps" in words
    assert words[words.index("-r") + 1].endswith("/requirements.lock")
    assert any(c.split()[0] == "requirements.lock" for c in build.args("COPY"))
    assert not any("requirements-dev.lock" in args for s in dockerfile for _, args in s.instructions)
    assert not any("[dev]" in run or " -e " in run for s in dockerfile for run in s.args("RUN"))


def test_the_final_stage_runs_as_the_non_root_app_user(dockerfile: list[Stage]) -> None:
    final = dockerfile[-1]
    users = final.args("USER")
    assert users, "the final stage sets no USER: it would run as root"
    uid, _, gid = users[-1].partition(":")
    assert uid == str(APP_UID)  # numeric, so the kubelet can verify runAsNonRoot
    assert gid in ("", str(APP_UID))
    after_user = final.instructions[[k for k, _ in final.instructions].index("USER") :]
    assert not [a for k, a in after_user if k == "RUN"], "a RUN after USER would need root"
    assert any(f"--uid {APP_UID}" in run for run in final.args("RUN")), "the user is not created in the image"
    assert final.args("ENTRYPOINT") == ['["python", "-m"]']


def ignored(path: str, patterns: list[str]) -> bool:
    """Docker's .dockerignore rule: the last pattern matching the path or one of its parent folders wins."""
    parts = path.split("/")
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    verdict = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        glob = pattern.removeprefix("!").rstrip("/")
        if any(fnmatch.fnmatchcase(c, glob) for c in candidates):
            verdict = not negate
    return verdict


def test_the_build_context_holds_only_what_the_image_needs() -> None:
    patterns = [
        line.strip()
        for line in (REPO / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    for needed in ("requirements.lock", "shared/platform/settings.py", "services/orders/app.py"):
        assert not ignored(needed, patterns), needed
    for kept_out in (
        ".venv/bin/python",
        ".git/config",
        ".devstack/cache/x",
        "tests/conftest.py",
        "requirements-dev.lock",
        "services/orders/__pycache__/app.cpython-311.pyc",
        ".env",
    ):
        assert ignored(kept_out, patterns), kept_out
    assert ignored("a/b", ["*"])  # the rule itself
    assert not ignored("a/b", ["*", "!a/"])
