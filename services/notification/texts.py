"""The texts themselves: (title, body[, sms]) Jinja2 templates per locale and message type.

The en-US titles are matched by other teams' end-to-end tests ("Payment received for order <id>" ...): keep
them. Roles, node keys, outcomes and deadline kinds pass through locale filters (see templates.py).
"""

from __future__ import annotations

TEXTS: dict[str, dict[str, tuple[str, ...]]] = {
    "en-US": {
        "order_paid": (
            "Payment received for order {{ order_id }}",
            "Thank you, we received {{ amount }} {{ currency }} for {{ product }}. "
            "The merchant will "
            "deliver under service supervision.",
        ),
        "order_received": (
            "New paid order {{ order_id }}",
            "A buyer paid for {{ product }}. Follow the service order in the seller centre.",
        ),
        "order_provider": (
            "Order {{ order_id }} you serve was paid",
            "A buyer paid for {{ product }}, an order bound to you as customer service provider.",
        ),
        "milestone_confirmed": (
            "Order {{ order_id }}: step '{{ node | node }}' confirmed",
            "The merchant confirmed '{{ node | node }}'. Next: "
            "{{ (next_node | node) if next_node else 'done' }}.",
        ),
        "appeal_raised": (
            "Appeal raised on order {{ order_id }}",
            "An appeal was raised by the {{ raised_by | role }}: {{ reason }}. "
            "The service order is "
            "frozen until the platform resolves it.",
        ),
        "appeal_to_review": (
            "Appeal raised on order {{ order_id }}: review needed",
            "The {{ raised_by | role }} appealed at '{{ node | node }}': {{ reason }}. "
            "Please "
            "resolve it within the SLA.",
        ),
        "appeal_resolved": (
            "Appeal on order {{ order_id }} resolved",
            "The platform resolved the appeal: {{ outcome | outcome }}.",
        ),
        "acceptance_done": (
            "Order {{ order_id }} accepted",
            "The delivery was accepted; the order is complete and enters the next settlement.",
        ),
        "order_completed": (
            "Order {{ order_id }} completed",
            "You accepted the delivery; the order is complete.",
        ),
        "order_cancelled": ("Order {{ order_id }} cancelled", "The order was cancelled: {{ reason }}."),
        "refund_requested": (
            "Refund requested on order {{ order_id }}",
            "The buyer asked for a refund of {{ amount }} {{ currency }}: {{ reason }}. "
            "Please decide in the seller centre.",
        ),
        "refund_decided": (
            "Refund on order {{ order_id }} {{ 'approved' if approved else 'rejected' }}",
            "The refund of {{ amount }} {{ currency }} was "
            "{{ 'approved' if approved else 'rejected' }}. {{ opinion }}",
        ),
        "merchant_call_failed": (
            "O&M reminder: {{ endpoint }} call failed",
            "Our call to your {{ endpoint }} interface failed (attempt {{ attempt }}): "
            "{{ error }}.{% if order_id %} Order {{ order_id }}.{% endif %}"
            "{% if final and consequence == 'refund' %} The order will be refunded."
            "{% endif %}",
        ),
        "deadline_reminder": (
            "Reminder: order {{ order_id }} needs you by {{ due }}",
            "Please act before {{ due }}: otherwise {{ consequence }}.",
        ),
        "verify_email": (
            "Verify your email for KooGallery messages",
            "{{ name }}, open this link to receive the account's KooGallery messages: {{ link }}",
        ),
        "verify_phone": (
            "Verification code",
            "Your verification code is {{ code }}",
            "Your message centre verification code is {{ code }}. Valid for {{ valid_hours }} h.",
        ),
    },
    "zh-CN": {
        "order_paid": (
            "订单 {{ order_id }} 支付成功",
            "您已支付 {{ amount }} {{ currency }} 购买 {{ product }},商家将在服务监管下交付。",
        ),
        "order_received": (
            "新订单 {{ order_id }} 已支付",
            "用户已购买 {{ product }},请在卖家中心服务监管中跟进。",
        ),
        "order_provider": (
            "您服务的订单 {{ order_id }} 已支付",
            "用户已购买 {{ product }},该订单绑定您为客户服务商。",
        ),
        "milestone_confirmed": (
            "订单 {{ order_id }}:节点「{{ node | node }}」已确认",
            "商家已确认「{{ node | node }}」,下一步:{{ (next_node | node) if next_node else '完成' }}。",
        ),
        "appeal_raised": (
            "订单 {{ order_id }} 发起申诉",
            "{{ raised_by | role }}发起了申诉:{{ reason }}。服务监管流程已冻结,等待平台处理。",
        ),
        "appeal_to_review": (
            "订单 {{ order_id }} 有待处理的申诉",
            "{{ raised_by | role }}在「{{ node | node }}」发起申诉:{{ reason }}。请在时限内处理。",
        ),
        "appeal_resolved": ("订单 {{ order_id }} 申诉已处理", "平台已处理申诉:{{ outcome | outcome }}。"),
        "acceptance_done": ("订单 {{ order_id }} 已验收", "用户已确认验收,订单已完成,将进入下期结算。"),
        "order_completed": ("订单 {{ order_id }} 已完成", "您已确认验收,订单已完成。"),
        "order_cancelled": ("订单 {{ order_id }} 已取消", "订单已取消:{{ reason }}。"),
        "refund_requested": (
            "订单 {{ order_id }} 收到退款申请",
            "用户申请退款 {{ amount }} {{ currency }}:{{ reason }}。请在卖家中心处理。",
        ),
        "refund_decided": (
            "订单 {{ order_id }} 退款{{ '已同意' if approved else '已驳回' }}",
            "退款 {{ amount }} {{ currency }}{{ '已同意' if approved else '已驳回' }}。{{ opinion }}",
        ),
        "merchant_call_failed": (
            "运维提醒:{{ endpoint }} 接口调用失败",
            "平台调用您的 {{ endpoint }} 接口失败(第 {{ attempt }} 次):{{ error }}。"
            "{% if order_id %}订单 {{ order_id }}。{% endif %}"
            "{% if final and consequence == 'refund' %}该订单将退款。{% endif %}",
        ),
        "deadline_reminder": (
            "提醒:订单 {{ order_id }} 请在 {{ due }} 前处理",
            "请在 {{ due }} 前处理:{{ kind | deadline }}。",
        ),
        "verify_email": (
            "验证您的云商店消息接收邮箱",
            "{{ name }},请打开以下链接以接收账号的云商店消息:{{ link }}",
        ),
        "verify_phone": (
            "验证码",
            "您的验证码是 {{ code }}",
            "您的消息中心验证码为 {{ code }},{{ valid_hours }} 小时内有效。",
        ),
    },
}
