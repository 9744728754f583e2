"""What each event tells whom: message types, their category, channels, and the texts (Jinja2, zh-CN / en-US).

Categories follow the marketplace's message types (dossier §6.3): product creation/activation (101),
supervision, appeal, O&M reminder (501), billing, other (901).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from jinja2 import DictLoader, Environment, StrictUndefined, select_autoescape

from shared.schemas import AccountRole


class Channel(StrEnum):
    IN_SITE = "in_site"
    EMAIL = "email"
    SMS = "sms"


ALL_CHANNELS = (Channel.IN_SITE, Channel.EMAIL, Channel.SMS)


@dataclass(frozen=True)
class MessageType:
    key: str
    category: str
    channels: tuple[Channel, ...] = ALL_CHANNELS
    mandatory: bool = True  # a mandatory message cannot be opted out of


@dataclass(frozen=True)
class Rule:
    """For one event type: which party (by role) gets which message type."""

    role: AccountRole
    message: MessageType


ORDER_PAID_BUYER = MessageType("order_paid", "creation_activation")
ORDER_NEW_MERCHANT = MessageType("order_received", "creation_activation")
MILESTONE = MessageType("milestone_confirmed", "supervision")
APPEAL_RAISED = MessageType("appeal_raised", "appeal")
APPEAL_RESOLVED = MessageType("appeal_resolved", "appeal")
ACCEPTED_MERCHANT = MessageType("acceptance_done", "supervision")
COMPLETED_BUYER = MessageType("order_completed", "supervision")

CATALOGUE: dict[str, tuple[Rule, ...]] = {
    "order.paid": (Rule(AccountRole.BUYER, ORDER_PAID_BUYER), Rule(AccountRole.MERCHANT, ORDER_NEW_MERCHANT)),
    "milestone.confirmed": (Rule(AccountRole.BUYER, MILESTONE),),
    "appeal.raised": (Rule(AccountRole.BUYER, APPEAL_RAISED), Rule(AccountRole.MERCHANT, APPEAL_RAISED)),
    "appeal.resolved": (Rule(AccountRole.BUYER, APPEAL_RESOLVED), Rule(AccountRole.MERCHANT, APPEAL_RESOLVED)),
    "acceptance.done": (Rule(AccountRole.MERCHANT, ACCEPTED_MERCHANT), Rule(AccountRole.BUYER, COMPLETED_BUYER)),
}

# Each message type has a title line and a body, per locale; the SMS is the title plus the order number so it
# stays within one or two segments.
_TEXTS: dict[str, dict[str, tuple[str, str]]] = {
    "en-US": {
        "order_paid": ("Payment received for order {{ order_id }}",
                       "Thank you, we received {{ amount }} {{ currency }} for {{ product }}. The merchant will "
                       "deliver under service supervision."),
        "order_received": ("New paid order {{ order_id }}",
                           "A buyer paid for {{ product }}. Follow the service order in the seller centre."),
        "milestone_confirmed": ("Order {{ order_id }}: step '{{ node }}' confirmed",
                                "The merchant confirmed '{{ node }}'. Next: {{ next_node or 'done' }}."),
        "appeal_raised": ("Appeal raised on order {{ order_id }}",
                          "An appeal was raised by the {{ raised_by }}: {{ reason }}. The service order is frozen "
                          "until the platform resolves it."),
        "appeal_resolved": ("Appeal on order {{ order_id }} resolved",
                            "The platform resolved the appeal: {{ outcome }}."),
        "acceptance_done": ("Order {{ order_id }} accepted",
                            "The delivery was accepted; the order is complete and enters the next settlement."),
        "order_completed": ("Order {{ order_id }} completed",
                            "You accepted the delivery; the order is complete."),
    },
    "zh-CN": {
        "order_paid": ("订单 {{ order_id }} 支付成功",
                       "您已支付 {{ amount }} {{ currency }} 购买 {{ product }},商家将在服务监管下交付。"),
        "order_received": ("新订单 {{ order_id }} 已支付", "用户已购买 {{ product }},请在卖家中心服务监管中跟进。"),
        "milestone_confirmed": ("订单 {{ order_id }}:节点「{{ node }}」已确认",
                                "商家已确认「{{ node }}」,下一步:{{ next_node or '完成' }}。"),
        "appeal_raised": ("订单 {{ order_id }} 发起申诉",
                          "{{ raised_by }}发起了申诉:{{ reason }}。服务监管流程已冻结,等待平台处理。"),
        "appeal_resolved": ("订单 {{ order_id }} 申诉已处理", "平台已处理申诉:{{ outcome }}。"),
        "acceptance_done": ("订单 {{ order_id }} 已验收", "用户已确认验收,订单已完成,将进入下期结算。"),
        "order_completed": ("订单 {{ order_id }} 已完成", "您已确认验收,订单已完成。"),
    },
}

_HTML = """<html><body><h2>{{ title }}</h2><p>{{ body }}</p>
<p style="color:#888">{{ footer }}</p></body></html>"""
_FOOTER = {"en-US": "Manage who receives these messages in the message centre.",
           "zh-CN": "可在消息中心设置消息接收人。"}

_env = Environment(loader=DictLoader({"mail.html": _HTML}), undefined=StrictUndefined,
                   autoescape=select_autoescape(default=True, default_for_string=True))
_text_env = Environment(undefined=StrictUndefined, autoescape=False)  # noqa: S701 - plain text, never HTML


@dataclass(frozen=True)
class Rendered:
    title: str
    body: str
    html: str
    sms: str


def render(message_type: str, locale: str, context: dict[str, Any]) -> Rendered:
    texts = _TEXTS.get(locale, _TEXTS["zh-CN"])
    title_t, body_t = texts[message_type]
    title = _text_env.from_string(title_t).render(context)
    body = _text_env.from_string(body_t).render(context)
    html = _env.get_template("mail.html").render(title=title, body=body,
                                                 footer=_FOOTER.get(locale, _FOOTER["zh-CN"]))
    return Rendered(title=title, body=body, html=html, sms=f"[KooGallery] {title}")
