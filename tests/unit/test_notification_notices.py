"""The notices' catalogue: every NoticeKind is a message type with its category and default channels (dossier
§6.3), texts in both locales that use only their documented params, and recipients named by the payload."""

from __future__ import annotations

import pytest
from jinja2 import Environment, meta

from services.notification import handlers, services
from services.notification.catalogue import (
    CATALOGUE,
    CATEGORIES,
    MESSAGE_TYPES,
    NOTICES,
    Channel,
    render,
    rules_for,
)
from services.notification.message_context import accounts_in_role, context, every_operator
from services.notification.texts import NOTICE_PARAMS, TEXTS, TITLES
from shared.schemas import AccountRole, NoticeRecipient, NoticeRequested, NoticeRequestedPayload, Topic
from shared.schemas.enums import NoticeKind
from tests.factories import rid

IN, MAIL, SMS = Channel.IN_SITE, Channel.EMAIL, Channel.SMS
B, M, P, OP = AccountRole.BUYER, AccountRole.MERCHANT, AccountRole.PROVIDER, AccountRole.OPERATOR

# What the brief and dossier §6.3 / §6.4 say each kind goes by (the catalogue's comments say where it is [I]).
EXPECTED: dict[NoticeKind, tuple[str, set[Channel]]] = {
    NoticeKind.APPEAL_ESCALATED: ("appeal", {IN, MAIL}),
    NoticeKind.PRODUCT_FROZEN: ("501", {IN, MAIL, SMS}),
    NoticeKind.PRODUCT_DELISTED: ("501", {IN, MAIL, SMS}),
    NoticeKind.DIAL_TEST_FAILED: ("501", {IN, MAIL, SMS}),
    NoticeKind.INSTANCE_RELEASED: ("101", {IN, MAIL, SMS}),
    NoticeKind.ACTIVATION_FAILED: ("101", {IN, MAIL, SMS}),
    NoticeKind.RENEWAL: ("renewal", {IN, MAIL}),
    NoticeKind.EXPIRY_REMINDER: ("renewal", {IN, MAIL, SMS}),
    NoticeKind.TRIAL_CONVERSION_REMINDER: ("renewal", {IN, MAIL, SMS}),
    NoticeKind.LISTING_REVIEW_RESULT: ("901", {IN, SMS}),
    NoticeKind.LONG_RUNNING_REMINDER: ("supervision", {IN, MAIL}),
    NoticeKind.SUPERVISION_AUTO_UNSUBSCRIBED: ("101", {IN, MAIL, SMS}),
    NoticeKind.RETURN_REVIEW_OVERDUE: ("101", {IN, MAIL, SMS}),
    NoticeKind.INVOICE_REQUESTED: ("901", {IN, MAIL}),
    NoticeKind.STATEMENT_STATUS: ("billing", {IN, MAIL}),
    NoticeKind.BILL_STATUS: ("billing", {IN, MAIL}),
    NoticeKind.ORDER_REMINDER: ("supervision", {IN, MAIL}),
}


def notice(kind: NoticeKind, *recipients: NoticeRecipient, **params: str) -> NoticeRequested:
    return NoticeRequested(
        producer="t",
        correlation_id="c",
        payload=NoticeRequestedPayload(
            notice_id=rid("n"), kind=kind, recipients=list(recipients), subject_id="S1", params=params
        ),
    )


def test_every_notice_kind_is_one_message_type_with_a_text_and_a_title_in_both_locales() -> None:
    assert set(NOTICES) == set(NoticeKind)
    assert len({m.key for m in NOTICES.values()}) == len(NoticeKind)
    for message in NOTICES.values():
        assert MESSAGE_TYPES[message.key] is message
        assert message.key in NOTICE_PARAMS
        for locale in ("en-US", "zh-CN"):
            assert message.key in TEXTS[locale]
    # every message type, old and new, is listed with a short name per locale
    assert set(TITLES["en-US"]) == set(TITLES["zh-CN"]) == set(MESSAGE_TYPES) == set(TEXTS["en-US"])


@pytest.mark.parametrize("kind", sorted(NoticeKind))
def test_each_kind_has_its_category_and_default_channels(kind: NoticeKind) -> None:
    message = NOTICES[kind]
    code, channels = EXPECTED[kind]
    assert CATEGORIES[message.category] == code
    assert set(message.channels) == channels
    assert IN in message.channels  # its in-site delivery marks the notice told (one notice per recipient)
    assert message.mandatory  # §6.1: with no recipient set, the bound phone and e-mail


@pytest.mark.parametrize("kind", sorted(NoticeKind))
@pytest.mark.parametrize("locale", ["en-US", "zh-CN"])
def test_a_text_uses_only_its_documented_params_and_renders_without_them(
    kind: NoticeKind, locale: str
) -> None:
    key = NOTICES[kind].key
    env = Environment(autoescape=False)  # noqa: S701 - parsing only
    env.filters.update(dict.fromkeys(("node", "role", "settlement", "review", "decision"), str))
    used: set[str] = set()
    for text in TEXTS[locale][key]:
        used |= meta.find_undeclared_variables(env.parse(text))
    assert used <= set(NOTICE_PARAMS[key])

    r = render(key, locale, context(notice(kind, NoticeRecipient(role=OP))))  # no params at all
    assert r.title
    assert r.body
    assert r.sms.startswith("[KooGallery] ")
    assert "None" not in r.title + r.body


def test_params_fill_the_text_and_keys_are_translated() -> None:
    sent = notice(
        NoticeKind.STATEMENT_STATUS,
        NoticeRecipient(role=M, account_id="m1"),
        statement_id="ST9",
        period="2026-10",
        status="paid",
        amount="10.00",
    )
    zh = render("statement_status", "zh-CN", context(sent))
    en = render("statement_status", "en-US", context(sent))
    assert zh.title == "结算单 ST9 已付款"
    assert en.title == "Settlement statement ST9 paid"
    assert "2026-10" in en.body
    assert "10.00 CNY" in en.body
    review = context(notice(NoticeKind.LISTING_REVIEW_RESULT, NoticeRecipient(role=OP), result="rejected"))
    assert render("listing_review_result", "zh-CN", review | {"product": "P"}).title == "P 上架审核驳回"
    reminder = context(notice(NoticeKind.ORDER_REMINDER, NoticeRecipient(role=OP), node="deliver"))
    assert "deliver" not in render("order_reminder", "zh-CN", reminder).body  # the node in Chinese


def test_the_recipients_come_from_the_payload() -> None:
    told = notice(
        NoticeKind.APPEAL_ESCALATED,
        NoticeRecipient(role=B, account_id="b1"),
        NoticeRecipient(role=M, account_id="m1"),
        NoticeRecipient(role=M, account_id="m1"),  # named twice: told once
        NoticeRecipient(role=OP),
    )
    assert {(r.role, r.message.key) for r in rules_for(told)} == {
        (B, "appeal_escalated"),
        (M, "appeal_escalated"),
        (OP, "appeal_escalated"),
    }
    assert accounts_in_role(told, M) == ["m1"]
    assert accounts_in_role(told, P) == []
    assert accounts_in_role(told, OP) == []
    assert every_operator(told)  # an operator recipient without an account: every operator

    one = notice(NoticeKind.LISTING_REVIEW_RESULT, NoticeRecipient(role=OP, account_id="op7"))
    assert accounts_in_role(one, OP) == ["op7"]
    assert not every_operator(one)
    assert [r.role for r in rules_for(one)] == [OP]


def test_notices_are_consumed_in_batches_like_the_other_catalogue_topics() -> None:
    assert handlers.EVENT_HANDLERS[Topic.NOTICE_REQUESTED] == [services.notify]
    assert services.notify in handlers.BATCHED
    assert Topic.NOTICE_REQUESTED in handlers.SUBSCRIPTIONS
    assert len(CATALOGUE["notice.requested"]) == len(NoticeKind) * len(AccountRole)
