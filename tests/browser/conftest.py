"""The console in a real browser on the real stack: Kafka, the database and Keycloak from the session's `infra`
(tests/conftest.py `plan_infra`), the four services and the console as separate processes, and Debian's
chromium driven by Playwright (its own browser download is not reachable here, so `executable_path` points at
the system's). Each journey logs its people in through Keycloak's own login page, as they would."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Browser, Page, async_playwright

from devstack.identity import User
from devstack.keycloak import REALM, _request
from devstack.stack import Ports, Stack
from tests.conftest import REPO, Infra
from tests.e2e.conftest import FAST

SCREENSHOTS = REPO / ".devstack" / "artifacts" / "screenshots"
PHONE = {"width": 390, "height": 844}  # a phone-sized screen


def allow_console(stack: Stack, port: int) -> None:
    """The realm's console client allows `make run`'s port; this stack's console runs on a free one."""
    node = stack.keycloak
    assert node is not None, "the browser tests need the session's own Keycloak"
    token = node.admin_token()
    admin = f"{node.url}/admin/realms/{REALM}/clients"
    status, found = _request("GET", f"{admin}?clientId=koo-console", token=token)
    if status != 200 or not found:
        raise RuntimeError(f"the realm has no console client: {status} {found}")
    client = found[0]
    base = f"http://127.0.0.1:{port}"
    client["redirectUris"] = [*client.get("redirectUris", []), f"{base}/auth/callback"]
    attributes = client.setdefault("attributes", {})
    logout = attributes.get("post.logout.redirect.uris", "")
    attributes["post.logout.redirect.uris"] = f"{logout}##{base}/" if logout else f"{base}/"
    status, body = _request("PUT", f"{admin}/{client['id']}", body=client, token=token)
    if status != 204:
        raise RuntimeError(f"could not allow the console's callback: {status} {body}")


@pytest.fixture(scope="session")
def console(infra: Infra, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    stack = Stack(
        tmp_path_factory.mktemp("browser"),
        Ports.free(),
        namespace=f"br{uuid.uuid4().hex[:8]}",
        service_env=FAST,
    ).using(infra.stack)
    try:
        allow_console(infra.stack, stack.ports.console)  # the session's Keycloak, this stack's port
        stack.start_sinks()
        stack.start_services()
        stack.start_console()
        yield stack
    finally:
        stack.stop()


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    executable = shutil.which("chromium")
    assert executable, "Debian's chromium is required: apt-get install chromium (make test-browser does it)"
    async with async_playwright() as pw:
        launched = await pw.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        try:
            yield launched
        finally:
            await launched.close()


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10) as client:
        yield client


async def log_in(browser: Browser, console: Stack, user: User, **context: object) -> Page:
    """A new browser (its own cookies) in which `user` logs in through Keycloak's login page."""
    ctx = await browser.new_context(locale="en-US", **context)  # type: ignore[arg-type]
    page = await ctx.new_page()
    await page.goto(console.console_url + "/")
    await page.get_by_role("link", name="Log in").click()
    await page.locator("#username").fill(user.username)
    await page.locator("#password").fill(user.form["password"])
    await page.locator("#kc-login").click()
    await page.wait_for_url(console.console_url + "/**")
    return page


async def screenshot(page: Page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    await page.screenshot(path=str(path), full_page=True)
    print(f"screenshot: {path}")
    return path
