"""Journeys through the console in a real browser, one per role it serves, and the one that crosses roles: the
buyer appeals, the operator resolves, both see the result. The other parties' steps that the journey does not
look at go through the services' APIs (tests/e2e/journey.py), the journey's own steps through the pages."""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, Page, expect

from devstack.stack import Stack
from tests.browser.conftest import PHONE, log_in, screenshot
from tests.e2e.journey import Journey
from tests.helpers import eventually
from tests.identity import IdentityProvider

# The first journey also waits for the session's stack (broker, database, Keycloak, services, console) to
# start, which takes minutes on a loaded machine; the default 180 s covers setup and test together.
pytestmark = pytest.mark.timeout(600)
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
EXE = b"MZ\x90\x00" + b"\x00" * 60 + b"PE\x00\x00" + b"\x00" * 64  # not a document: supervision refuses it


async def bought(console: Stack, http: httpx.AsyncClient, idp: IdentityProvider) -> Journey:
    j = await Journey(console, http, idp).setup(provider=False)
    await j.buy()
    await j.service_order()
    return j


async def service_order(j: Journey) -> dict[str, Any]:
    so: dict[str, Any] = await j.call("GET", "supervision", f"/service-orders/{j.so_id}", j.buyer)
    return so


async def unread(page: Page) -> int:
    return int(await page.get_by_test_id("inbox-unread").inner_text())


async def test_a_buyer_follows_an_order_accepts_the_delivery_and_reads_the_inbox(
    console: Stack, browser: Browser, http: httpx.AsyncClient, idp: IdentityProvider
) -> None:
    j = await bought(console, http, idp)
    page = await log_in(browser, console, j.buyer)
    # The buyer's menu and home page: my orders, with this order in it.
    await expect(page.get_by_role("navigation")).to_contain_text("My orders")
    await expect(page.get_by_role("navigation")).not_to_contain_text("Appeals")
    await page.get_by_role("link", name=j.order_id).click()
    await expect(page.get_by_test_id("next-step")).to_contain_text("Buyer")
    await page.get_by_role("button", name="Submit the requirements").click()
    await expect(page.get_by_role("status")).to_contain_text("Done")
    assert (await service_order(j))["node"] == "confirm_request"
    await expect(page.get_by_test_id("next-step")).to_contain_text("Merchant")

    await j.act(j.merchant, "confirm")
    await j.act(j.merchant, "deliver", await j.suite.delivery(j.merchant, j.so_id))
    await page.reload()
    # What happens next, and when: the buyer's acceptance step and its deadline.
    await expect(page.get_by_test_id("next-step")).to_contain_text("It is your step")
    await expect(page.locator("ul.deadlines")).to_contain_text("Due")
    await screenshot(page, "buyer-service-order")
    await page.get_by_label("Note (optional)").first.fill("all good")
    await page.get_by_role("button", name="Accept the delivery").click()
    await expect(page.get_by_test_id("so-status")).to_have_text("Completed")
    assert (await service_order(j))["status"] == "completed"

    # The inbox: the order's messages arrive; the unread count falls as the buyer reads them.
    await page.get_by_role("link", name=re.compile("^Inbox")).click()

    async def arrived() -> int:
        await page.reload()
        return await unread(page)

    await eventually(arrived, timeout=60, what="the buyer's inbox messages")
    await expect(page.locator("#unread .badge")).to_be_visible()  # the menu's badge, loaded by htmx
    first = page.locator("li.message.unread").first
    message_id = await first.get_attribute("data-message")
    await first.get_by_role("button", name="Mark as read").click()
    read = page.locator(f'li[data-message="{message_id}"]')
    await expect(read).to_contain_text("read")
    await expect(read.get_by_role("button", name="Mark as read")).to_have_count(0)
    inbox = await j.inbox(j.buyer)
    assert [m["read"] for m in inbox["items"] if m["message_id"] == message_id] == [True]
    await screenshot(page, "buyer-inbox")

    # zh-CN: the switch sets the page's language and its words.
    await page.get_by_role("link", name=re.compile("中文")).click()
    await expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    await expect(page.get_by_role("heading", level=1)).to_contain_text("站内信")

    # Logging out ends the console's session and Keycloak's: the orders page asks for a login again.
    await page.get_by_role("button", name="退出登录").click()
    await expect(page.get_by_role("link", name="登录")).to_be_visible()
    await page.goto(console.console_url + "/buyer/orders")
    await expect(page.locator("#kc-login")).to_be_visible()
    await page.context.close()


async def test_the_buyer_appeals_the_operator_resolves_and_both_see_the_outcome(
    console: Stack, browser: Browser, http: httpx.AsyncClient, idp: IdentityProvider
) -> None:
    j = await bought(console, http, idp)
    buyer = await log_in(browser, console, j.buyer, viewport=PHONE)
    await buyer.goto(f"{console.console_url}/orders/{j.order_id}")
    await buyer.get_by_label("Reason").fill("the merchant does not answer")
    await buyer.get_by_label("What you ask for").fill("start the work")
    await buyer.get_by_label(re.compile("^Attachment")).set_input_files(
        {"name": "chat.pdf", "mimeType": "application/pdf", "buffer": PDF}
    )
    await buyer.get_by_role("button", name="Raise the appeal").click()
    await expect(buyer.get_by_test_id("so-status")).to_have_text("Frozen by an appeal")
    so = await service_order(j)
    assert so["status"] == "frozen"
    [attachment] = so["open_appeal"]["attachments"]
    assert attachment.startswith("EV-")  # the uploaded file, kept by supervision
    await screenshot(buyer, "buyer-appeal-raised-phone")

    operator = await log_in(browser, console, j.operator)
    await expect(operator.get_by_role("navigation")).to_contain_text("Appeals")
    await operator.get_by_role("link", name="Service orders").click()
    # The operator works this page with the keyboard: the first Tab reaches the skip link, then the form.
    await operator.keyboard.press("Tab")
    await expect(operator.get_by_role("link", name="Skip to content")).to_be_focused()
    await operator.get_by_label("Order ID").focus()
    await operator.keyboard.type(j.order_id)
    await operator.keyboard.press("Enter")
    await expect(operator.locator("#open-appeal-h")).to_be_visible()
    await expect(operator.locator("dd", has_text="the merchant does not answer")).to_be_visible()
    await operator.get_by_label("Decision").select_option("resume")
    await operator.get_by_label("Note to both parties").fill("the merchant is asked to start now")
    await screenshot(operator, "operator-appeal")
    await operator.get_by_role("button", name="Resolve").press("Enter")
    await expect(operator.get_by_test_id("appeal-outcome")).to_contain_text("Resume the flow")
    await expect(operator.get_by_test_id("so-status")).to_have_text("In progress")
    assert (await service_order(j))["status"] == "active"

    await buyer.reload()
    await expect(buyer.get_by_test_id("appeal-outcome")).to_contain_text("Resume the flow")
    await expect(buyer.get_by_test_id("so-status")).to_have_text("In progress")
    await screenshot(buyer, "buyer-appeal-resolved-phone")
    await buyer.context.close()
    await operator.context.close()


async def test_a_merchant_delivers_with_evidence_after_a_refusal_and_the_buyer_rejects_it(
    console: Stack, browser: Browser, http: httpx.AsyncClient, idp: IdentityProvider
) -> None:
    j = await bought(console, http, idp)
    await j.act(j.buyer, "submit")
    page = await log_in(browser, console, j.merchant)
    await expect(page.get_by_role("navigation")).to_contain_text("Service orders")
    await page.get_by_label("Order ID").fill(j.order_id)
    await page.get_by_role("button", name="Open").click()
    await page.get_by_role("button", name="Confirm the requirements").click()
    await expect(page.get_by_role("status")).to_contain_text("Done")
    assert (await service_order(j))["node"] == "deliver"

    # A file that is no document: supervision refuses it, and the page says which field and why.
    await page.get_by_label("Statement of work (SOW)").set_input_files(
        {"name": "sow.pdf", "mimeType": "application/pdf", "buffer": EXE}
    )
    await page.get_by_label("Acceptance document").set_input_files(
        {"name": "acc.pdf", "mimeType": "application/pdf", "buffer": PDF}
    )
    await page.get_by_label("Actual activation time").fill("2026-11-20T09:00")
    await page.get_by_role("button", name="Deliver").click()
    await expect(page.get_by_role("alert")).to_contain_text("file")
    await expect(page.get_by_role("alert")).to_contain_text("accepted: application/pdf")
    await screenshot(page, "merchant-refused-upload")
    assert (await service_order(j))["node"] == "deliver"

    await page.get_by_label("Statement of work (SOW)").set_input_files(
        {"name": "sow.pdf", "mimeType": "application/pdf", "buffer": PDF}
    )
    await page.get_by_label("Acceptance document").set_input_files(
        {"name": "acc.pdf", "mimeType": "application/pdf", "buffer": PDF}
    )
    await page.get_by_label("Actual activation time").fill("2026-11-20T09:00")
    await page.get_by_role("button", name="Deliver").click()
    await expect(page.get_by_role("status")).to_contain_text("Done")
    so = await service_order(j)
    assert so["node"] == "accept"
    delivered = {e["kind"]: e for e in so["evidence"]}
    assert delivered["sow"]["file_id"]
    assert delivered["acceptance_document"]["file_id"]
    await expect(page.get_by_test_id("next-step")).to_contain_text("Buyer")
    await screenshot(page, "merchant-delivered")
    await page.context.close()

    # The buyer rejects the delivery with a reason: the flow goes back to the merchant's delivery step.
    buyer = await log_in(browser, console, j.buyer)
    await buyer.goto(f"{console.console_url}/orders/{j.order_id}")
    reject = buyer.locator("form", has=buyer.get_by_role("button", name="Reject the delivery"))
    await reject.get_by_label("Note (optional)").fill("the acceptance report is not signed")
    await reject.get_by_role("button", name="Reject the delivery").click()
    await expect(buyer.get_by_role("status")).to_contain_text("Done")
    so = await service_order(j)
    assert so["node"] == "deliver"
    assert so["timeline"][-1]["note"] == "the acceptance report is not signed"
    await expect(buyer.get_by_test_id("next-step")).to_contain_text("Merchant")
    await buyer.context.close()


async def test_a_merchant_creates_and_publishes_a_product_and_sees_it_listed(
    console: Stack, browser: Browser, http: httpx.AsyncClient, idp: IdentityProvider
) -> None:
    j = await Journey(console, http, idp).setup(provider=False)
    page = await log_in(browser, console, j.merchant)
    await page.get_by_role("link", name="Products").click()
    name = f"Cloud migration {j.merchant.account_id[:8]}"
    await page.get_by_label("Product name").fill(name)
    await page.get_by_label("Price (CNY)").fill("2999.00")
    await page.get_by_label("Acceptance standard").fill("migration report signed")
    await page.get_by_role("button", name="Create the draft").click()
    await expect(page.get_by_test_id("product-status")).to_have_text("Draft")
    product_id = page.url.rsplit("/", 1)[-1]
    await page.get_by_role("button", name="Publish for review").click()
    await expect(page.get_by_test_id("product-status")).to_have_text("Waiting for review")

    # The operator approves it from the review queue (dossier §9.1).
    operator = await log_in(browser, console, j.operator)
    await operator.get_by_role("link", name="Product reviews").click()
    waiting = operator.locator(f'section[data-product="{product_id}"]')
    await expect(waiting.get_by_role("heading")).to_have_text(name)
    await waiting.get_by_label(re.compile("^Review note")).fill("clear acceptance standard")
    await waiting.get_by_role("button", name="Approve and list").click()
    await expect(operator.get_by_role("status")).to_contain_text("Done")
    await expect(operator.locator(f'section[data-product="{product_id}"]')).to_have_count(0)
    reviewed = await j.call("GET", "orders", f"/products/{product_id}", j.merchant)
    assert (reviewed["status"], reviewed["review_note"]) == ("listed", "clear acceptance standard")
    await operator.context.close()
    await page.reload()
    await expect(page.get_by_test_id("product-status")).to_have_text("Listed")
    await page.get_by_role("link", name="My products").click()
    await expect(page.get_by_role("link", name=name)).to_be_visible()
    await screenshot(page, "merchant-products")
    await page.context.close()


async def test_a_provider_sees_its_ledger_and_statement(
    console: Stack, browser: Browser, http: httpx.AsyncClient, idp: IdentityProvider
) -> None:
    j = await Journey(console, http, idp).setup(price="1288.00", ratio="0.12")
    await j.become_provider()
    # An order bought through the provider's private link and accepted earns it its share (dossier §7.5).
    await j.buy(private_link=await j.private_link())
    await j.service_order()
    await j.walk_to_acceptance()

    async def earned() -> dict[str, Any] | None:
        book: dict[str, Any] = await j.call(
            "GET", "partner", f"/providers/{j.provider.account_id}/ledger", j.provider
        )
        return book if book["entries"] else None

    ledger = await eventually(earned, timeout=60, what="the provider's earning")
    page = await log_in(browser, console, j.provider)
    await expect(page.get_by_role("navigation")).to_contain_text("Ledger")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Ledger and bills")
    await expect(page.locator("main")).to_contain_text(f"{ledger['total']} {ledger['currency']}")
    await expect(page.get_by_role("row", name=re.compile(j.order_id))).to_contain_text(
        ledger["entries"][0]["amount"]
    )
    statement = await j.call("GET", "partner", f"/providers/{j.provider.account_id}/statement", j.provider)
    await expect(page.get_by_test_id("unbilled")).to_have_text(statement["unbilled"])
    await expect(page.get_by_test_id("billed")).to_have_text(statement["billed_basic"])
    await expect(page.get_by_role("alert")).to_have_count(0)
    await screenshot(page, "provider-ledger")

    # Selling: a private link for the buyer, shown to copy; a demand filed with the product's merchant.
    await page.get_by_role("link", name="Links, offers and demands").click()
    link_form = page.locator("form", has=page.get_by_role("button", name="Make the link"))
    await link_form.get_by_label("Product ID").fill(j.product["product_id"])
    await link_form.get_by_label("Customer account ID (optional)").fill(j.buyer.account_id)
    await link_form.get_by_role("button", name="Make the link").click()
    token = await page.get_by_test_id("link-token").input_value()
    assert len(token) > 20  # the signed token, to copy (the buyer orders with it as `private_link`)
    demand_form = page.locator("form", has=page.get_by_role("button", name="File the demand"))
    await demand_form.get_by_label("Merchant account ID").fill(j.merchant.account_id)
    await demand_form.get_by_label("Customer account ID").fill(j.buyer.account_id)
    await demand_form.get_by_label("Product ID").fill(j.product["product_id"])
    await demand_form.get_by_label("What the customer needs").fill("a migration of 3 databases")
    await demand_form.get_by_role("button", name="File the demand").click()
    await expect(page.get_by_test_id("demand-status")).to_have_text("Submitted")
    demand_id = page.url.rsplit("/", 1)[-1]
    demand = await j.call("GET", "partner", f"/demands/{demand_id}", j.provider)
    assert (demand["provider_id"], demand["customer_account_id"]) == (
        j.provider.account_id,
        j.buyer.account_id,
    )
    # The selling page lists the provider's demands (partner GET /demands), each with its status and page.
    await page.get_by_role("navigation").get_by_role("link", name="Links, offers and demands").click()
    row = page.locator(f'tr[data-demand="{demand_id}"]')
    await expect(row).to_contain_text("Submitted")
    await row.get_by_role("link", name=demand_id).click()
    await expect(page.get_by_test_id("demand-status")).to_have_text("Submitted")
    await page.context.close()


async def test_the_operator_takes_a_buyers_appeal_from_the_queue_and_resolves_it(
    console: Stack, browser: Browser, http: httpx.AsyncClient, idp: IdentityProvider
) -> None:
    j = await bought(console, http, idp)
    await j.call(
        "POST",
        "supervision",
        f"/service-orders/{j.so_id}/appeals",
        j.buyer,
        expect=201,
        json={"reason": "no answer for a week", "demands": "a refund", "attachments": []},
    )
    operator = await log_in(browser, console, j.operator, viewport=PHONE)
    # The operator's home is the queue; the unassigned filter keeps this appeal in it.
    await expect(operator.get_by_role("heading", level=1)).to_have_text("Appeal queue")
    await operator.get_by_label("Assignee").select_option("unassigned")
    await operator.get_by_role("button", name="Apply the filters").click()
    row = operator.locator(f'tr[data-order="{j.order_id}"]')
    await expect(row).to_contain_text("no answer for a week")
    await expect(row.get_by_test_id("sla")).to_contain_text(re.compile(r"^\d+ (d|h|min)\b.* left$"))
    await expect(row.get_by_test_id("assignee")).to_have_text("Unassigned")
    await screenshot(operator, "operator-appeal-queue-phone")

    await row.get_by_role("button", name="Assign to me").click()
    await expect(operator.get_by_role("status")).to_contain_text("Done")
    so = await service_order(j)
    assert so["open_appeal"]["assignee_account_id"] == j.operator.account_id
    # Taken: no longer unassigned, and in "assigned to me".
    await expect(operator.locator(f'tr[data-order="{j.order_id}"]')).to_have_count(0)
    await operator.get_by_label("Assignee").select_option("mine")
    await operator.get_by_role("button", name="Apply the filters").click()
    mine = operator.locator(f'tr[data-order="{j.order_id}"]')
    await expect(mine.get_by_test_id("assignee")).to_have_text("you")
    await expect(mine.get_by_role("button", name="Assign to me")).to_have_count(0)

    # Resolved from the service order's page the row links to.
    await mine.get_by_role("link", name=re.compile("^Open to resolve")).click()
    await expect(operator.get_by_test_id("appeal-assignee")).to_have_text("you")
    await operator.get_by_label("Decision").select_option("complete")
    await operator.get_by_label("Note to both parties").fill("the work was delivered; the order completes")
    await operator.get_by_role("button", name="Resolve").click()
    await expect(operator.get_by_test_id("appeal-outcome")).to_contain_text("Complete the order")
    assert (await service_order(j))["status"] == "completed"
    queue = await j.call("GET", "supervision", "/appeals", j.operator, params={"status": "resolved"})
    assert j.order_id in [a["order_id"] for a in queue["appeals"]]
    await operator.context.close()


async def test_a_merchant_filters_its_service_orders_and_pages_through_them(
    console: Stack, browser: Browser, http: httpx.AsyncClient, idp: IdentityProvider
) -> None:
    j = await bought(console, http, idp)
    first = j.order_id
    await j.buy()  # a second order of the same merchant's product: two rows, one a page
    await j.service_order()
    second = j.order_id
    page = await log_in(browser, console, j.merchant)
    await expect(page.get_by_role("heading", level=1)).to_have_text("Service orders")
    await page.get_by_label("Status").select_option("active")
    await page.get_by_label("Delivery type").select_option("manual_service")
    await page.get_by_label("Created from (date)").fill("2020-01-01")
    await page.get_by_role("button", name="Apply the filters").click()
    table = page.get_by_test_id("service-orders")
    await expect(table).to_contain_text(first)
    await expect(table).to_contain_text(second)
    await expect(page.get_by_role("row", name=re.compile(second))).to_contain_text("In progress")
    await screenshot(page, "merchant-service-orders")
    # One a page: newest first, the next page link keeps the filters.
    await page.goto(page.url + "&limit=1")
    await expect(page.get_by_test_id("service-orders")).to_contain_text(second)
    await expect(page.get_by_test_id("service-orders")).not_to_contain_text(first)
    await page.get_by_role("link", name="Next page").click()
    await expect(page.get_by_test_id("service-orders")).to_contain_text(first)
    assert "delivery_type=manual_service" in page.url
    await expect(page.get_by_label("Status")).to_have_value("active")
    # A filter that excludes them: a date range in the past.
    await page.get_by_label("Created to (date, inclusive)").fill("2020-01-02")
    await page.get_by_role("button", name="Apply the filters").click()
    await expect(page.get_by_text("Nothing matches.")).to_be_visible()
    # A row opens its service order page.
    await page.get_by_role("link", name="Clear").click()
    await page.get_by_role("link", name=first).click()
    await expect(page.get_by_test_id("so-status")).to_have_text("In progress")
    await page.context.close()


async def test_a_buyer_keeps_a_favourite_asks_for_a_refund_and_adds_a_message_recipient(
    console: Stack, browser: Browser, http: httpx.AsyncClient, idp: IdentityProvider
) -> None:
    j = await bought(console, http, idp)
    page = await log_in(browser, console, j.buyer)
    # Purchased services, filtered: the order is in service.
    await page.get_by_label("Status").select_option("processing")
    await page.get_by_role("button", name="Apply the filters").click()
    await expect(page.get_by_role("row", name=re.compile(j.order_id))).to_contain_text("In service")

    # Favourites: keep the product, see it by its name, remove it.
    await page.get_by_role("link", name="Favourites").click()
    await page.get_by_label("Product ID").fill(j.product["product_id"])
    await page.get_by_role("button", name="Keep a product").click()
    kept = page.locator(f'li[data-favourite="{j.product["product_id"]}"]')
    await expect(kept.get_by_role("heading")).to_have_text(j.product["name"])
    favourites = await j.call("GET", "orders", "/favourites", j.buyer)
    assert [f["product_id"] for f in favourites] == [j.product["product_id"]]
    await kept.get_by_role("button", name=re.compile("^Remove")).click()
    await expect(kept).to_have_count(0)
    assert await j.call("GET", "orders", "/favourites", j.buyer) == []

    # A refund request on the order's page: the merchant decides it within its review time.
    await page.goto(f"{console.console_url}/orders/{j.order_id}")
    await page.get_by_text("Refund (unsubscribe)").click()
    await page.get_by_label("Why you ask for a refund").fill("the project was cancelled")
    await page.get_by_label(re.compile("^Amount asked for")).fill("100.00")
    await page.get_by_role("button", name="Request the refund").click()
    await expect(page.get_by_test_id("refund-state")).to_have_text("Requested")
    order = await j.call("GET", "orders", f"/orders/{j.order_id}", j.buyer)
    assert (order["refund"]["state"], order["refund"]["amount"]) == ("requested", "100.00")

    # The message centre: a new recipient is listed, unverified until it uses its link and code.
    await page.get_by_role("link", name="Message centre").click()
    await page.get_by_label("Name").fill("Han Meimei")
    await page.get_by_label("Email").fill(f"han.{j.buyer.account_id[:8]}@example.com")
    phone = f"+86137{uuid.uuid4().int % 10**8:08d}"  # a number of its own: its verification SMS is its own
    await page.get_by_label(re.compile("^Mobile phone")).fill(phone)
    await page.get_by_role("button", name="Add the recipient").click()
    added = page.locator("li[data-recipient]", has_text="Han Meimei")
    await expect(added.get_by_test_id("phone-verified")).to_have_text("not verified")
    await screenshot(page, "buyer-message-centre")
    recipients = await j.call("GET", "notification", f"/accounts/{j.buyer.account_id}/recipients", j.buyer)
    [new] = [r for r in recipients if r["name"] == "Han Meimei"]
    assert (new["phone"], new["phone_verified"]) == (phone, False)

    async def code() -> str | None:  # the verification SMS, at the stack's SMS sink
        sms = (await http.get(f"{console.sms_url}/sms", params={"to": phone})).json()
        found = [m for s in sms if (m := re.search(r"\b(\d{6})\b", s["body"]))]
        return found[-1].group(1) if found else None

    await added.get_by_label("SMS code (6 digits)").fill(await eventually(code, what="the verification SMS"))
    await added.get_by_role("button", name="Verify the phone").click()
    await expect(page.get_by_role("status")).to_contain_text("Done")
    await expect(added.get_by_test_id("phone-verified")).to_have_text("verified")
    recipients = await j.call("GET", "notification", f"/accounts/{j.buyer.account_id}/recipients", j.buyer)
    assert [r["phone_verified"] for r in recipients if r["name"] == "Han Meimei"] == [True]
    # The same page in zh-CN.
    await page.get_by_role("link", name=re.compile("中文")).click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("消息接收管理")
    await expect(added.get_by_test_id("phone-verified")).to_have_text("已验证")
    await page.context.close()
