"""Message texts: both locales, HTML escaping, and SMS that fit one segment."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from jinja2 import UndefinedError

from services.notification.catalogue import _TEXTS, CATALOGUE, render
from services.notification.templates import segments
from services.notification.texts import NOTICE_PARAMS
from services.orders.domain import Order

ORDER_ID = Order.new_id(datetime(2026, 3, 1, tzinfo=UTC))  # a real-shaped order number: CS + 16 characters


def context(**extra: Any) -> dict[str, Any]:
    return {
        "order_id": ORDER_ID,
        "amount": "120.50",
        "currency": "CNY",
        "product": "Data migration service",
        "node": "confirm_request",
        "next_node": "deliver",
        "raised_by": "buyer",
        "reason": "no answer",
        "outcome": "resume",
        "approved": True,
        "opinion": "ok",
        "endpoint": "newInstance",
        "attempt": 2,
        "final": True,
        "consequence": "refund",
        "error": "HTTP 500",
        "due": "2026-03-05 10:00 UTC",
        "kind": "auto_acceptance",
        "name": "Ops",
        "link": "http://n/verify/email?token=x",
        "code": "123456",
        "valid_hours": "24",
        # notices (texts.NOTICE_PARAMS)
        "appeal_id": "ap-1",
        "until": "2026-04-01",
        "instance_id": "inst-1",
        "expires_at": "2026-03-16 10:00",
        "days_left": "15",
        "result": "approved",
        "days": "180",
        "decision": "agreed",
        "statement_id": "ST-202602-1",
        "bill_id": "BL-202602-1",
        "period": "2026-02",
        "status": "sent",
        "message": "please hurry",
        "day": "20261130",
        "slot": "am",
        **extra,
    }


# The notices whose title names the order they are about.
ORDER_NOTICES = {
    "appeal_escalated",
    "long_running_reminder",
    "supervision_auto_unsubscribed",
    "return_review_overdue",
    "invoice_requested",
    "order_reminder",
}


def has_chinese(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


def test_every_message_the_catalogue_names_has_a_text_in_both_locales() -> None:
    named = {rule.message.key for rules in CATALOGUE.values() for rule in rules}
    assert named <= set(_TEXTS["en-US"])
    assert named <= set(_TEXTS["zh-CN"])


def test_english_text() -> None:
    r = render("order_paid", "en-US", context())
    assert r.title == f"Payment received for order {ORDER_ID}"
    assert "120.50 CNY" in r.body
    assert "Data migration service" in r.body
    assert not has_chinese(r.title + r.body)


def test_chinese_text() -> None:
    r = render("order_paid", "zh-CN", context())
    assert r.title == f"订单 {ORDER_ID} 支付成功"
    assert "120.50 CNY" in r.body
    assert has_chinese(r.body)
    assert "消息中心" in r.html


def test_an_unknown_locale_falls_back_to_chinese() -> None:
    assert render("order_paid", "fr-FR", context()) == render("order_paid", "zh-CN", context())


def test_milestone_without_a_next_node_says_done() -> None:
    assert "Next: done." in render("milestone_confirmed", "en-US", context(next_node=None)).body
    assert "下一步:完成" in render("milestone_confirmed", "zh-CN", context(next_node=None)).body


@pytest.mark.parametrize("locale", ["en-US", "zh-CN"])
def test_html_escapes_what_the_plain_text_keeps(locale: str) -> None:
    reason = '<script>alert("x")</script> & more'

    r = render("appeal_raised", locale, context(reason=reason))

    assert reason in r.body
    assert "<script>" not in r.html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; more" in r.html


def test_a_missing_placeholder_fails_loudly() -> None:
    with pytest.raises(UndefinedError, match="order_id"):
        render("order_paid", "en-US", {})


@pytest.mark.parametrize("message_type", sorted(_TEXTS["zh-CN"]))
def test_chinese_sms_fits_two_ucs2_segments(message_type: str) -> None:
    sms = render(message_type, "zh-CN", context()).sms
    assert sms.startswith("[KooGallery] ")
    assert segments(sms) <= 2
    # notices about a product, an instance, a statement or a bill: their title names that, not an order
    about_no_order = {t for t in NOTICE_PARAMS if t not in ORDER_NOTICES}
    if message_type not in {"merchant_call_failed", "verify_email", "verify_phone", *about_no_order}:
        assert ORDER_ID in sms


@pytest.mark.parametrize("message_type", sorted(_TEXTS["en-US"]))
def test_english_sms_fits_one_gsm_segment_and_leaves_the_body_out(message_type: str) -> None:
    sms = render(message_type, "en-US", context(reason="a long private reason")).sms
    assert segments(sms) == 1
    assert len(sms) <= 160
    assert "private" not in sms


def test_an_overlong_sms_is_cut_to_two_segments() -> None:
    sms = render("merchant_call_failed", "zh-CN", context(endpoint="接口" * 200)).sms
    assert segments(sms) == 2
    assert sms.endswith("…")


@pytest.mark.parametrize("message_type", sorted(_TEXTS["zh-CN"]))
def test_chinese_texts_never_show_english_roles_or_node_keys(message_type: str) -> None:
    r = render(
        message_type,
        "zh-CN",
        context(node="deliver", next_node="accept", raised_by="merchant", outcome="refund", reason="原因"),
    )
    text = r.title + r.body + r.sms
    for word in (
        "buyer",
        "merchant",
        "operator",
        "provider",
        "deliver",
        "accept",
        "confirm_request",
        "refund",
    ):
        assert word not in text.lower()


def test_unknown_node_keys_are_not_shown_in_chinese() -> None:
    r = render("milestone_confirmed", "zh-CN", context(node="some_new_node", next_node=None))
    assert "some_new_node" not in r.title + r.body
    assert "当前节点" in r.title


def test_the_role_of_an_appellant_is_translated() -> None:
    assert "商家发起了申诉" in render("appeal_raised", "zh-CN", context(raised_by="merchant")).body
    assert "raised by the merchant" in render("appeal_raised", "en-US", context(raised_by="merchant")).body


def test_every_event_the_brief_names_has_a_rule() -> None:
    wanted = {
        "order.paid",
        "order.status_changed",
        "milestone.confirmed",
        "appeal.raised",
        "appeal.resolved",
        "acceptance.done",
        "refund.requested",
        "refund.decided",
        "merchant_call.failed",
    }
    assert wanted <= set(CATALOGUE)
    [rule] = CATALOGUE["merchant_call.failed"]
    assert rule.message.category == "om_reminder"
    assert rule.message.mandatory
    assert {"email", "sms"} <= {c.value for c in rule.message.channels}
    assert any(r.role.value == "operator" for r in CATALOGUE["appeal.raised"])
