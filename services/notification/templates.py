"""Message texts per message type and locale (Jinja2), the e-mail HTML, and SMS segment measurement.

The account's locale picks the language (zh-CN by default, the marketplace's own). Chinese texts never show
English role names or flow node keys: both are mapped to the marketplace's Chinese terms (dossier §2.1
glossary).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from jinja2 import DictLoader, Environment, StrictUndefined, Template, select_autoescape

from services.notification.texts import TEXTS
from shared.platform.sms import segments

_TEXTS = TEXTS  # kept for the tests and callers that list what exists

ROLE_ZH = {
    "buyer": "用户",
    "merchant": "商家",
    "provider": "客户服务商",
    "operator": "运营经理",
    "system": "系统",
}
# Node keys of the flow templates (dossier §2); an unknown key is never shown raw in Chinese text.
NODE_ZH = {
    "submit_request": "用户提交需求",
    "confirm_request": "商家确认需求",
    "deliver": "商家实施服务",
    "accept": "用户确认验收",
    "activate": "商家开通",
    "authorize": "商家授权",
    "ship": "商家发货",
    "sign": "用户签收",
    "deploy": "部署",
    "upload": "商家上传文件",
    "download": "用户下载",
}
OUTCOME_ZH = {"resume": "恢复流程", "complete": "完成订单", "refund": "退款"}
# Notice params that are keys (texts.py): settlement statuses, review results, unsubscribe decisions. An
# unknown value is shown as sent (it is the producer's word, not an internal key).
SETTLEMENT = {
    "en-US": {"in_review": "in review", "review": "in review", "sent": "sent", "paid": "paid"},
    "zh-CN": {"in_review": "审核中", "review": "审核中", "sent": "已发送", "paid": "已付款"},
}
REVIEW = {
    "en-US": {"approved": "approved", "rejected": "rejected"},
    "zh-CN": {"approved": "通过", "rejected": "驳回"},
}
DECISION = {
    "en-US": {"agreed": "agreed", "rejected": "rejected"},
    "zh-CN": {"agreed": "已同意", "rejected": "已拒绝"},
}
DEADLINE_ZH = {
    "auto_acceptance": "到期后系统将自动验收",
    "appeal_sla": "到期前需处理申诉",
    "idle": "节点等待过久,对方可发起申诉",
    "long_running": "订单长期未验收",
}

_HTML = """<html><body><h2>{{ title }}</h2><p>{{ body }}</p>
{% if link %}<p><a href="{{ link }}">{{ link }}</a></p>{% endif %}
<p style="color:#888">{{ footer }}</p></body></html>"""
_FOOTER = {
    "en-US": "Manage who receives these messages in the message centre.",
    "zh-CN": "可在消息中心设置消息接收人。",
}
SMS_PREFIX = "[KooGallery] "
SMS_MAX_SEGMENTS = 2

_html_env = Environment(
    loader=DictLoader({"mail.html": _HTML}),
    undefined=StrictUndefined,
    autoescape=select_autoescape(default=True, default_for_string=True),
)


def _text_env(locale: str) -> Environment:
    env = Environment(undefined=StrictUndefined, autoescape=False)  # noqa: S701 - plain text, never HTML
    zh = locale == "zh-CN"
    env.filters["role"] = lambda v: ROLE_ZH.get(str(v), "相关方") if zh else str(v)
    env.filters["node"] = lambda v: NODE_ZH.get(str(v), "当前节点") if zh else str(v)
    env.filters["outcome"] = lambda v: OUTCOME_ZH.get(str(v), "已处理") if zh else str(v)
    env.filters["deadline"] = lambda v: DEADLINE_ZH.get(str(v), "请及时处理") if zh else str(v)
    for name, table in (("settlement", SETTLEMENT), ("review", REVIEW), ("decision", DECISION)):
        env.filters[name] = lambda v, words=table[locale]: words.get(str(v), str(v))
    return env


_ENVS = {loc: _text_env(loc) for loc in TEXTS}


@dataclass(frozen=True)
class Rendered:
    title: str
    body: str
    html: str
    sms: str


def fit_sms(text: str, max_segments: int = SMS_MAX_SEGMENTS) -> str:
    """Shorten a text until it fits `max_segments` parts (an ellipsis marks the cut)."""
    while segments(text) > max_segments:
        text = text[:-2].rstrip() + "…"
    return text


@functools.cache
def _compiled(locale: str, message_type: str) -> tuple[Template, ...]:
    """A message type's title, body (and SMS) templates, compiled once: `from_string` compiles every time
    (0.4 ms per message, seen in make bench's profile of the notification service)."""
    return tuple(_ENVS[locale].from_string(t) for t in TEXTS[locale][message_type])


def render(message_type: str, locale: str, context: dict[str, Any]) -> Rendered:
    locale = locale if locale in TEXTS else "zh-CN"
    title_t, body_t, *sms_t = _compiled(locale, message_type)
    title = title_t.render(context)
    body = body_t.render(context)
    link = context.get("link")
    html = _html_env.get_template("mail.html").render(
        title=title, body=body, link=link, footer=_FOOTER[locale]
    )
    # The SMS is the title (no private body text) unless the type has its own SMS text (a code, a due time).
    sms = sms_t[0].render(context) if sms_t else title
    return Rendered(title=title, body=body, html=html, sms=fit_sms(SMS_PREFIX + sms))
