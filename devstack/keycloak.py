"""Keycloak, the dev stack's identity provider, run from its Maven Central distribution.

The pinned zip (`org.keycloak:keycloak-quarkus-dist`) is resolved by Maven into its own repository cache, then
unpacked once into a cache folder outside the clone (`$KOO_CACHE_DIR`, default `~/.cache/koo-suite`), where a
fresh clone finds it again. The first start of a distribution runs Keycloak's build step (about 40 s); it is
kept in the distribution, so later starts take about 10 s. Each stack runs its own in-memory instance
(`start-dev --db=dev-mem`) on its own ports, and imports the realm from `infra/keycloak/` through the admin
API when it is up. The bootstrap admin's password is made per stack and kept in the stack's state folder.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import time
import urllib.parse
import urllib.request
import zipfile
from pathlib import Path
from typing import Any

from devstack.cache import cache_root, locked
from devstack.procs import Proc, spawn, wait_until

VERSION = "26.5.6"
REALM = "koogallery"
REPO = Path(__file__).resolve().parent.parent
REALM_FILE = REPO / "infra" / "keycloak" / f"realm-{REALM}.json"
CLI_CLIENT = "koo-cli"


def distribution() -> Path:
    """The unpacked distribution, fetched and unpacked once per machine."""
    home = cache_root() / f"keycloak-{VERSION}"
    if (home / "bin" / "kc.sh").exists():
        return home
    with locked(cache_root() / f"keycloak-{VERSION}.lock"):
        if (home / "bin" / "kc.sh").exists():
            return home
        if shutil.which("mvn") is None or shutil.which("java") is None:
            raise RuntimeError("Keycloak needs Java 17+ and Maven on PATH")
        coords = f"org.keycloak:keycloak-quarkus-dist:{VERSION}:zip"
        print(f"fetching Keycloak {VERSION} (about 160 MB, once per machine) ...", flush=True)
        subprocess.run(
            ["mvn", "-q", "-B", "dependency:get", f"-Dartifact={coords}", "-Dtransitive=false"], check=True
        )
        repo = Path(os.environ.get("MAVEN_REPO") or Path.home() / ".m2" / "repository")
        archive = (
            repo
            / "org"
            / "keycloak"
            / "keycloak-quarkus-dist"
            / VERSION
            / f"keycloak-quarkus-dist-{VERSION}.zip"
        )
        print(f"unpacking Keycloak into {home} ...", flush=True)
        staging = home.with_name(home.name + ".partial")
        shutil.rmtree(staging, ignore_errors=True)
        with zipfile.ZipFile(archive) as zf:
            zf.extractall(staging)
        inner = staging / f"keycloak-{VERSION}"
        for script in (inner / "bin").glob("*.sh"):
            script.chmod(0o755)
        inner.rename(home)
        shutil.rmtree(staging, ignore_errors=True)
    return home


def _request(
    method: str,
    url: str,
    *,
    form: dict[str, str] | None = None,
    body: Any = None,
    token: str | None = None,
    timeout: float = 10,
) -> tuple[int, Any]:
    data, headers = None, {}
    if form is not None:
        data = urllib.parse.urlencode(form).encode()
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    elif body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    if token:
        headers["Authorization"] = f"Bearer {token}"
    req = urllib.request.Request(url, data=data, headers=headers, method=method)  # noqa: S310 - our own URLs
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310
            raw = resp.read()
            return resp.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as exc:
        raw = exc.read()
        try:
            return exc.code, json.loads(raw) if raw else None
        except ValueError:
            return exc.code, raw.decode(errors="replace")


class KeycloakNode:
    def __init__(self, state: Path, port: int, management_port: int) -> None:
        self.state, self.port, self.management_port = state, port, management_port
        self.proc: Proc | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def issuer(self) -> str:
        return f"{self.url}/realms/{REALM}"

    @property
    def admin_password(self) -> str:
        secret = self.state / "admin.secret"
        if not secret.exists():
            self.state.mkdir(parents=True, exist_ok=True)
            secret.write_text(secrets.token_urlsafe(18))
            secret.chmod(0o600)
        return secret.read_text().strip()

    def start(self, log_dir: Path, timeout: float = 180.0) -> Proc:
        home = distribution()
        built = home / "lib" / "quarkus" / ".koo-built-dev-mem"
        env = {
            "KC_BOOTSTRAP_ADMIN_USERNAME": "admin",
            "KC_BOOTSTRAP_ADMIN_PASSWORD": self.admin_password,
            "JAVA_OPTS_KC_HEAP": "-Xms64m -Xmx512m",
        }
        argv = [
            str(home / "bin" / "kc.sh"),
            "start-dev",
            "--db=dev-mem",
            "--health-enabled=true",
            "--http-host=127.0.0.1",
            f"--http-port={self.port}",
            f"--http-management-port={self.management_port}",
            "--log-level=WARN,org.keycloak.services:INFO",
        ]

        def launch() -> Proc:
            proc = spawn("keycloak", argv, log_dir, env=env)
            wait_until(self.ready, timeout, "keycloak", proc)
            return proc

        if built.exists():
            self.proc = launch()
        else:
            # The first start builds the distribution in place: one stack at a time does it.
            with locked(home.with_name(home.name + ".build.lock")):
                print("first start of Keycloak: its build step takes about 40 s ...", flush=True)
                self.proc = launch()
                built.touch()
        self.import_realm()
        return self.proc

    def ready(self) -> bool:
        try:
            with urllib.request.urlopen(
                f"http://127.0.0.1:{self.management_port}/health/ready", timeout=2
            ) as resp:
                return bool(resp.status == 200)
        except OSError:
            return False

    def admin_token(self) -> str:
        status, body = _request(
            "POST",
            f"{self.url}/realms/master/protocol/openid-connect/token",
            form={
                "grant_type": "password",
                "client_id": "admin-cli",
                "username": "admin",
                "password": self.admin_password,
            },
        )
        if status != 200:
            raise RuntimeError(f"keycloak admin login failed: {status} {body}")
        return str(body["access_token"])

    def import_realm(self) -> None:
        token = self.admin_token()
        status, _ = _request("GET", f"{self.url}/admin/realms/{REALM}", token=token)
        if status == 200:
            return
        status, body = _request(
            "POST",
            f"{self.url}/admin/realms",
            body=json.loads(REALM_FILE.read_text()),
            token=token,
            timeout=60,
        )
        if status != 201:
            raise RuntimeError(f"keycloak realm import failed: {status} {body}")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.stop(timeout=30)


def password_token(issuer: str, username: str, password: str, client_id: str = CLI_CLIENT) -> dict[str, Any]:
    """Ask the issuer for a user's tokens (the dev realm's CLI client allows the password grant)."""
    status, body = _request(
        "POST",
        f"{issuer}/protocol/openid-connect/token",
        form={
            "grant_type": "password",
            "client_id": client_id,
            "username": username,
            "password": password,
            "scope": "openid",
        },
    )
    if status != 200:
        raise RuntimeError(f"login of {username} failed: {status} {body}")
    return dict(body)


def client_token(issuer: str, client_id: str, secret: str) -> dict[str, Any]:
    """A service account's token (client credentials)."""
    status, body = _request(
        "POST",
        f"{issuer}/protocol/openid-connect/token",
        form={"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret},
    )
    if status != 200:
        raise RuntimeError(f"client {client_id} could not get a token: {status} {body}")
    return dict(body)


def demo_users() -> list[dict[str, Any]]:
    """The realm file's people: username, password, role and account id."""
    realm = json.loads(REALM_FILE.read_text())
    return [
        {
            "username": u["username"],
            "password": u["credentials"][0]["value"],
            "role": u["realmRoles"][0],
            "account_id": u["id"],
            "email": u.get("email"),
        }
        for u in realm["users"]
        if "credentials" in u
    ]


def wait_for_issuer(issuer: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status, _ = _request("GET", f"{issuer}/.well-known/openid-configuration")
        if status == 200:
            return
        time.sleep(0.5)
    raise TimeoutError(f"{issuer} does not answer")
