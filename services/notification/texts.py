"""The texts themselves: (title, body[, sms]) Jinja2 templates per locale and message type.

The en-US titles are matched by other teams' end-to-end tests ("Payment received for order <id>" ...): keep
them. Roles, node keys, outcomes and deadline kinds pass through locale filters (see templates.py).

The notices (`notice.requested`, one message type per `NoticeKind`) are filled from the payload's `params`,
all strings; a param the producer did not send renders as empty (message_context.py), never an error. The
params each kind's text uses (`NOTICE_PARAMS`; a unit test keeps the texts to them):

| message type                    | params                                                                 |
|---------------------------------|------------------------------------------------------------------------|
| `appeal_escalated`              | `order_id`, `appeal_id`, `node` (flow node key), `due`        |
| `product_frozen`                | `product`, `reason`, `until`                                  |
| `product_delisted`              | `product`, `reason`                                           |
| `dial_test_failed`              | `product`, `day`, `slot` (`am` / `pm`), `reason`              |
| `instance_released`             | `product`, `instance_id`, `order_id`                          |
| `activation_failed`             | `product`, `order_id`, `reason`                               |
| `renewal`                       | `product`, `order_id`, `expires_at`, `amount`, `currency`     |
| `expiry_reminder`               | `product`, `instance_id`, `expires_at`, `days_left`           |
| `trial_conversion_reminder`     | `product`, `instance_id`, `expires_at`, `days_left`           |
| `listing_review_result`         | `product`, `result` (`approved` / `rejected`), `opinion`      |
| `long_running_reminder`         | `order_id`, `product`, `days`                                 |
| `supervision_auto_unsubscribed` | `order_id`, `product`, `reason`                               |
| `return_review_overdue`         | `order_id`, `due`                                             |
| `invoice_requested`             | `order_id`, `product`, `amount`, `currency`                   |
| `statement_status`              | `statement_id`, `period`, `status` (`in_review`/`sent`/`paid`),        |
|                                 | `amount`, `currency`                                                   |
| `bill_status`                   | `bill_id`, `period`, `status` (`in_review`/`sent`/`paid`), `amount`,   |
|                                 | `currency`                                                             |
| `order_reminder`                | `order_id`, `node` (flow node key), `message`                 |

`order_id` also comes from the event's envelope, and `currency` is CNY unless sent. Any param may carry `link`
(a URL the e-mail shows).
"""

from __future__ import annotations

NOTICE_PARAMS: dict[str, tuple[str, ...]] = {
    "appeal_escalated": ("order_id", "appeal_id", "node", "due"),
    "product_frozen": ("product", "reason", "until"),
    "product_delisted": ("product", "reason"),
    "dial_test_failed": ("product", "day", "slot", "reason"),
    "instance_released": ("product", "instance_id", "order_id"),
    "activation_failed": ("product", "order_id", "reason"),
    "renewal": ("product", "order_id", "expires_at", "amount", "currency"),
    "expiry_reminder": ("product", "instance_id", "expires_at", "days_left"),
    "trial_conversion_reminder": ("product", "instance_id", "expires_at", "days_left"),
    "listing_review_result": ("product", "result", "opinion"),
    "long_running_reminder": ("order_id", "product", "days"),
    "supervision_auto_unsubscribed": ("order_id", "product", "reason"),
    "return_review_overdue": ("order_id", "due"),
    "invoice_requested": ("order_id", "product", "amount", "currency"),
    "statement_status": ("statement_id", "period", "status", "amount", "currency"),
    "bill_status": ("bill_id", "period", "status", "amount", "currency"),
    "order_reminder": ("order_id", "node", "message"),
}

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
        # --- notices (notice.requested) ---
        "appeal_escalated": (
            "Appeal on order {{ order_id }} escalated",
            "The appeal{% if appeal_id %} {{ appeal_id }}{% endif %} on order {{ order_id }}"
            "{% if node %} at '{{ node | node }}'{% endif %} was not resolved within its SLA"
            "{% if due %} (due {{ due }}){% endif %}: it is escalated to the platform's operators.",
        ),
        "product_frozen": (
            "O&M reminder: trading of {{ product }} frozen",
            "Trading of {{ product }} is frozen{% if reason %}: {{ reason }}{% endif %}."
            "{% if until %} Until {{ until }}.{% endif %} Repair your interfaces to have it resumed.",
        ),
        "product_delisted": (
            "O&M reminder: {{ product }} delisted",
            "{{ product }} was delisted{% if reason %}: {{ reason }}{% endif %}.",
        ),
        "dial_test_failed": (
            "O&M reminder: the dial test of {{ product }} failed",
            "The {{ 'morning' if slot == 'am' else 'afternoon' }} dial test of {{ product }}'s interface "
            "on {{ day }} failed"
            "{% if reason %}: {{ reason }}{% endif %}. After 5 failing days in a row its trading is frozen.",
        ),
        "instance_released": (
            "Instance {{ instance_id }} of {{ product }} released",
            "The instance {{ instance_id }} of {{ product }} expired without renewal and was released after "
            "its retention period{% if order_id %} (order {{ order_id }}){% endif %}.",
        ),
        "activation_failed": (
            "Activation of {{ product }} failed",
            "We could not activate {{ product }}{% if order_id %} for order {{ order_id }}{% endif %}"
            "{% if reason %}: {{ reason }}{% endif %}.",
        ),
        "renewal": (
            "{{ product }} renewed",
            "{{ product }} was renewed{% if order_id %} (order {{ order_id }}){% endif %}"
            "{% if amount %} for {{ amount }} {{ currency }}{% endif %}"
            "{% if expires_at %}; it now expires on {{ expires_at }}{% endif %}.",
        ),
        "expiry_reminder": (
            "{{ product }} expires{% if days_left %} in {{ days_left }} day(s){% endif %}",
            "{{ product }}{% if instance_id %} (instance {{ instance_id }}){% endif %} expires"
            "{% if expires_at %} on {{ expires_at }}{% endif %}. Renew it to keep using it.",
        ),
        "trial_conversion_reminder": (
            "Trial of {{ product }} ends{% if days_left %} in {{ days_left }} day(s){% endif %}",
            "The trial of {{ product }}{% if instance_id %} (instance {{ instance_id }}){% endif %} ends"
            "{% if expires_at %} on {{ expires_at }}{% endif %}. "
            "Buy the commercial edition to keep using it.",
        ),
        "listing_review_result": (
            "Listing review of {{ product }}: {{ result | review }}",
            "The listing review of {{ product }} is {{ result | review }}."
            "{% if opinion %} {{ opinion }}{% endif %}",
        ),
        "long_running_reminder": (
            "Order {{ order_id }} open for {{ days or 180 }} days",
            "Order {{ order_id }}{% if product %} ({{ product }}){% endif %} has been under service "
            "supervision for {{ days or 180 }} days without acceptance. Please complete it.",
        ),
        "supervision_auto_unsubscribed": (
            "Order {{ order_id }} unsubscribed by the system",
            "The service supervision of order {{ order_id }}{% if product %} ({{ product }}){% endif %} was "
            "overdue, and the system unsubscribed it{% if reason %}: {{ reason }}{% endif %}.",
        ),
        "return_review_overdue": (
            "Return on order {{ order_id }} not reviewed in time",
            "The merchant did not review the returned goods of order {{ order_id }}"
            "{% if due %} by {{ due }}{% endif %}. You may contact the merchant.",
        ),
        "invoice_requested": (
            "Invoice requested for order {{ order_id }}",
            "The buyer requested an invoice for order {{ order_id }}"
            "{% if product %} ({{ product }}){% endif %}"
            "{% if amount %}, {{ amount }} {{ currency }}{% endif %}.",
        ),
        "statement_status": (
            "Settlement statement {{ statement_id }} {{ status | settlement }}",
            "Your settlement statement{% if period %} for {{ period }}{% endif %}"
            "{% if amount %} ({{ amount }} {{ currency }}){% endif %} is {{ status | settlement }}.",
        ),
        "bill_status": (
            "Bill {{ bill_id }} {{ status | settlement }}",
            "Your bill{% if period %} for {{ period }}{% endif %}"
            "{% if amount %} ({{ amount }} {{ currency }}){% endif %} is {{ status | settlement }}.",
        ),
        "order_reminder": (
            "The buyer reminds you about order {{ order_id }}",
            "The buyer is waiting{% if node %} at '{{ node | node }}'{% endif %} on order {{ order_id }}"
            "{% if message %}: {{ message }}{% endif %}.",
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
        # --- notices (notice.requested) ---
        "appeal_escalated": (
            "订单 {{ order_id }} 的申诉已升级",
            "订单 {{ order_id }} 的申诉{% if appeal_id %} {{ appeal_id }}{% endif %}"
            "{% if node %}(节点「{{ node | node }}」){% endif %}未在时限内处理"
            "{% if due %}(截止 {{ due }}){% endif %},已升级至平台运营经理。",
        ),
        "product_frozen": (
            "运维提醒:{{ product }} 已冻结交易",
            "{{ product }} 已冻结交易{% if reason %}:{{ reason }}{% endif %}。"
            "{% if until %}冻结至 {{ until }}。{% endif %}请修复接口后申请恢复。",
        ),
        "product_delisted": (
            "运维提醒:{{ product }} 已下架",
            "{{ product }} 已下架{% if reason %}:{{ reason }}{% endif %}。",
        ),
        "dial_test_failed": (
            "运维提醒:{{ product }} 拨测失败",
            "{{ product }} 接口 {{ day }}{{ '上午' if slot == 'am' else '下午' }}"
            "拨测失败{% if reason %}:{{ reason }}{% endif %}。"
            "连续 5 天失败将冻结交易。",
        ),
        "instance_released": (
            "{{ product }} 的实例 {{ instance_id }} 已释放",
            "{{ product }} 的实例 {{ instance_id }} 到期未续费,保留期满后已释放"
            "{% if order_id %}(订单 {{ order_id }}){% endif %}。",
        ),
        "activation_failed": (
            "{{ product }} 开通失败",
            "{{ product }}{% if order_id %}(订单 {{ order_id }}){% endif %}资源开通失败"
            "{% if reason %}:{{ reason }}{% endif %}。",
        ),
        "renewal": (
            "{{ product }} 续费成功",
            "{{ product }} 已续费{% if order_id %}(订单 {{ order_id }}){% endif %}"
            "{% if amount %},金额 {{ amount }} {{ currency }}{% endif %}"
            "{% if expires_at %},新的到期时间为 {{ expires_at }}{% endif %}。",
        ),
        "expiry_reminder": (
            "{{ product }} {% if days_left %}将在 {{ days_left }} 天后{% else %}即将{% endif %}到期",
            "{{ product }}{% if instance_id %}(实例 {{ instance_id }}){% endif %}"
            "{% if expires_at %}将于 {{ expires_at }} {% endif %}到期,请及时续费。",
        ),
        "trial_conversion_reminder": (
            "{{ product }} 试用{% if days_left %}将在 {{ days_left }} 天后{% else %}即将{% endif %}到期",
            "{{ product }}{% if instance_id %}(实例 {{ instance_id }}){% endif %}的试用"
            "{% if expires_at %}将于 {{ expires_at }} {% endif %}到期,请购买商用版本以继续使用。",
        ),
        "listing_review_result": (
            "{{ product }} 上架审核{{ result | review }}",
            "{{ product }} 的上架审核结果:{{ result | review }}。{% if opinion %}{{ opinion }}{% endif %}",
        ),
        "long_running_reminder": (
            "订单 {{ order_id }} 已持续 {{ days or 180 }} 天",
            "订单 {{ order_id }}{% if product %}({{ product }}){% endif %}"
            "处于服务监管中已 {{ days or 180 }} 天仍未验收,请尽快完成。",
        ),
        "supervision_auto_unsubscribed": (
            "订单 {{ order_id }} 已由系统退订",
            "订单 {{ order_id }}{% if product %}({{ product }}){% endif %}的服务监管已超期,系统已执行退订"
            "{% if reason %}:{{ reason }}{% endif %}。",
        ),
        "return_review_overdue": (
            "订单 {{ order_id }} 的退货未按时审核",
            "商家未{% if due %}在 {{ due }} 前{% else %}按时{% endif %}审核订单 {{ order_id }} 的退货,"
            "您可以联系商家。",
        ),
        "invoice_requested": (
            "订单 {{ order_id }} 收到发票申请",
            "用户申请开具订单 {{ order_id }}{% if product %}({{ product }}){% endif %}的发票"
            "{% if amount %},金额 {{ amount }} {{ currency }}{% endif %}。",
        ),
        "statement_status": (
            "结算单 {{ statement_id }} {{ status | settlement }}",
            "您{% if period %} {{ period }} {% endif %}的结算单"
            "{% if amount %}(金额 {{ amount }} {{ currency }}){% endif %}{{ status | settlement }}。",
        ),
        "bill_status": (
            "账单 {{ bill_id }} {{ status | settlement }}",
            "您{% if period %} {{ period }} {% endif %}的账单"
            "{% if amount %}(金额 {{ amount }} {{ currency }}){% endif %}{{ status | settlement }}。",
        ),
        "order_reminder": (
            "用户催促订单 {{ order_id }}",
            "用户正在等待订单 {{ order_id }}{% if node %}的「{{ node | node }}」{% endif %}"
            "{% if message %}:{{ message }}{% endif %}。",
        ),
    },
}

# A short name of each message type, as the message centre lists them (GET /message-types).
TITLES: dict[str, dict[str, str]] = {
    "en-US": {
        "order_paid": "Order paid",
        "order_received": "New paid order",
        "order_provider": "Paid order you serve",
        "milestone_confirmed": "Step confirmed",
        "appeal_raised": "Appeal raised",
        "appeal_to_review": "Appeal to review",
        "appeal_resolved": "Appeal resolved",
        "acceptance_done": "Delivery accepted",
        "order_completed": "Order completed",
        "order_cancelled": "Order cancelled",
        "refund_requested": "Refund requested",
        "refund_decided": "Refund decided",
        "merchant_call_failed": "Interface call failed",
        "deadline_reminder": "Deadline reminder",
        "verify_email": "E-mail verification",
        "verify_phone": "Phone verification",
        "appeal_escalated": "Appeal escalated",
        "product_frozen": "Product trading frozen",
        "product_delisted": "Product delisted",
        "dial_test_failed": "Dial test failed",
        "instance_released": "Instance released",
        "activation_failed": "Activation failed",
        "renewal": "Renewal",
        "expiry_reminder": "Expiry reminder",
        "trial_conversion_reminder": "Trial to commercial reminder",
        "listing_review_result": "Listing review result",
        "long_running_reminder": "180-day order reminder",
        "supervision_auto_unsubscribed": "Overdue supervision unsubscribed",
        "return_review_overdue": "Return not reviewed in time",
        "invoice_requested": "Invoice requested",
        "statement_status": "Settlement statement",
        "bill_status": "Provider bill",
        "order_reminder": "Buyer's reminder",
    },
    "zh-CN": {
        "order_paid": "订单支付成功",
        "order_received": "新订单",
        "order_provider": "服务的订单已支付",
        "milestone_confirmed": "节点已确认",
        "appeal_raised": "发起申诉",
        "appeal_to_review": "待处理申诉",
        "appeal_resolved": "申诉已处理",
        "acceptance_done": "订单已验收",
        "order_completed": "订单已完成",
        "order_cancelled": "订单已取消",
        "refund_requested": "退款申请",
        "refund_decided": "退款处理结果",
        "merchant_call_failed": "接口调用失败",
        "deadline_reminder": "到期提醒",
        "verify_email": "邮箱验证",
        "verify_phone": "手机验证",
        "appeal_escalated": "申诉升级",
        "product_frozen": "商品冻结交易",
        "product_delisted": "商品下架",
        "dial_test_failed": "拨测失败",
        "instance_released": "实例释放",
        "activation_failed": "资源开通失败",
        "renewal": "产品续费通知",
        "expiry_reminder": "产品到期提醒",
        "trial_conversion_reminder": "试用转商用提醒",
        "listing_review_result": "上架审核结果",
        "long_running_reminder": "订单 180 天提醒",
        "supervision_auto_unsubscribed": "监管超期系统退订",
        "return_review_overdue": "退货未按时审核",
        "invoice_requested": "发票申请",
        "statement_status": "结算单",
        "bill_status": "服务商账单",
        "order_reminder": "用户催促",
    },
}
