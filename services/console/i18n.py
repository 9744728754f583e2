"""The console's words in zh-CN and en-US: one small catalogue (every key in both locales; a unit test checks
it and that every key the templates use is here), the locale from the user's switch or Accept-Language."""

from __future__ import annotations

from collections.abc import Callable

LOCALES = ("en-US", "zh-CN")
DEFAULT = "en-US"

_PAIRS: dict[str, tuple[str, str]] = {
    "app.title": ("KooGallery console", "KooGallery 控制台"),
    "app.skip": ("Skip to content", "跳到正文"),
    "app.menu": ("Menu", "菜单"),
    "lang.label": ("Language", "语言"),
    "lang.other": ("中文", "English"),
    "action.login": ("Log in", "登录"),
    "action.logout": ("Log out", "退出登录"),
    "home.welcome": (
        "Log in to do your work in the marketplace: orders, deliveries, appeals and messages.",
        "登录后在云商店办理业务：订单、交付、申诉和消息。",
    ),
    "home.signed_in_as": ("Signed in as", "当前用户"),
    "home.no_role": (
        "Your account has no marketplace role (buyer, merchant, provider or operator).",
        "您的账号没有云商店角色（买家、商家、服务商或运营）。",
    ),
    "role.buyer": ("Buyer", "买家"),
    "role.merchant": ("Merchant", "商家"),
    "role.provider": ("Provider", "服务商"),
    "role.operator": ("Operator", "运营"),
    "role.system": ("System", "系统"),
    "nav.orders": ("My orders", "我的订单"),
    "nav.inbox": ("Inbox", "站内信"),
    "nav.appeals": ("Appeals", "申诉处理"),
    "nav.service_orders": ("Service orders", "服务订单"),
    "nav.ledger": ("Ledger", "账本"),
    "orders.title": ("My orders and purchased services", "我的订单与已购服务"),
    "orders.empty": ("No orders yet.", "暂无订单。"),
    "col.order": ("Order", "订单"),
    "col.product": ("Product", "商品"),
    "col.status": ("Status", "状态"),
    "col.amount": ("Amount", "金额"),
    "col.created": ("Placed", "下单时间"),
    "col.when": ("When", "时间"),
    "col.who": ("Who", "操作方"),
    "col.what": ("What", "操作"),
    "col.step": ("Step", "节点"),
    "order.title": ("Order", "订单"),
    "order.service_order": ("Service order", "服务单"),
    "order.no_service_order": (
        "The service order is not there yet: it starts once the payment is confirmed.",
        "服务单尚未生成：支付确认后开始。",
    ),
    "order.status": ("Status", "状态"),
    "order.node": ("Current step", "当前节点"),
    "order.next": ("What happens next", "接下来"),
    "order.whose_step": ("Whose step", "由谁处理"),
    "order.your_step": ("It is your step.", "轮到您处理。"),
    "order.waiting_for": ("Waiting for", "等待"),
    "order.nothing_next": (
        "Nothing more to do: the flow has ended or is frozen.",
        "无需操作：流程已结束或已冻结。",
    ),
    "order.deadlines": ("Deadlines", "时限"),
    "order.no_deadlines": ("No running deadline.", "没有进行中的时限。"),
    "order.timeline": ("Timeline", "时间线"),
    "deadline.due": ("Due", "截止"),
    "deadline.then": ("Then", "届时"),
    "deadline.paused": ("paused", "已暂停"),
    "deadline.auto_acceptance": ("Automatic acceptance", "自动验收"),
    "deadline.appeal_sla": ("Operator's answer to the appeal", "运营处理申诉"),
    "deadline.idle": ("Idle limit", "未操作时限"),
    "deadline.long_running": ("Long-running reminder", "超期提醒"),
    "status.active": ("In progress", "进行中"),
    "status.frozen": ("Frozen by an appeal", "申诉冻结中"),
    "status.refunding": ("Refunding", "退款中"),
    "status.completed": ("Completed", "已完成"),
    "status.refunded": ("Refunded", "已退款"),
    "step.do": ("Do this step", "办理此节点"),
    "step.note": ("Note (optional)", "备注（可选）"),
    "step.sow": ("Statement of work (SOW)", "工作说明书（SOW）"),
    "step.acceptance_document": ("Acceptance document", "验收报告"),
    "step.activation": ("Actual activation time", "实际开通时间"),
    "action.submit": ("Submit the requirements", "提交需求"),
    "action.confirm": ("Confirm the requirements", "确认需求"),
    "action.send_back": ("Send the requirements back", "退回需求"),
    "action.deliver": ("Deliver", "交付"),
    "action.accept": ("Accept the delivery", "确认验收"),
    "action.reject": ("Reject the delivery", "拒绝验收"),
    "appeal.title": ("Appeal", "申诉"),
    "appeal.help": (
        "An appeal freezes the flow and its clocks until an operator resolves it.",
        "申诉会冻结流程及其时限，直到运营处理。",
    ),
    "appeal.reason": ("Reason", "申诉原因"),
    "appeal.demands": ("What you ask for", "诉求"),
    "appeal.attachment": ("Attachment (optional: PDF, image or text)", "附件（可选：PDF、图片或文本）"),
    "appeal.submit": ("Raise the appeal", "提交申诉"),
    "appeal.open": ("Open appeal", "进行中的申诉"),
    "appeal.history": ("Appeals", "申诉记录"),
    "appeal.raised_by": ("Raised by", "申诉方"),
    "appeal.respond_by": ("Operator answers by", "运营处理截止"),
    "appeal.outcome": ("Outcome", "处理结果"),
    "appeal.attachments": ("Attachments", "附件"),
    "outcome.resume": ("Resume the flow", "恢复流程"),
    "outcome.complete": ("Complete the order", "完成订单"),
    "outcome.refund": ("Refund the buyer", "退款给买家"),
    "resolve.title": ("Resolve the appeal", "处理申诉"),
    "resolve.outcome": ("Decision", "处理决定"),
    "resolve.note": ("Note to both parties", "给双方的说明"),
    "resolve.submit": ("Resolve", "提交处理"),
    "find.title": ("Find a service order", "查找服务单"),
    "find.help": (
        "Enter the order ID (from the order, a message or the appeal notice).",
        "输入订单号（见订单、站内信或申诉通知）。",
    ),
    "find.order_id": ("Order ID", "订单号"),
    "find.submit": ("Open", "打开"),
    "inbox.title": ("Inbox", "站内信"),
    "inbox.unread": ("unread", "未读"),
    "inbox.empty": ("No messages.", "暂无消息。"),
    "inbox.mark_read": ("Mark as read", "标为已读"),
    "inbox.read_all": ("Mark all as read", "全部已读"),
    "inbox.is_read": ("read", "已读"),
    "inbox.open_order": ("Open the order", "查看订单"),
    "nav.products": ("Products", "商品管理"),
    "products.title": ("My products", "我的商品"),
    "products.empty": ("No listed products yet.", "暂无已上架商品。"),
    "products.listed_at": ("Listed", "上架时间"),
    "products.new": ("A new manual service", "新建人工服务商品"),
    "products.new_help": (
        "Created as a draft; publishing sends it to the operators' review before it is listed.",
        "创建后为草稿；发布后提交运营审核，通过后上架。",
    ),
    "products.name": ("Product name", "商品名称"),
    "products.price": ("Price (CNY)", "价格（元）"),
    "products.days": ("Promised delivery days", "承诺交付天数"),
    "products.standard": ("Acceptance standard", "验收标准"),
    "products.create": ("Create the draft", "创建草稿"),
    "products.publish": ("Publish for review", "发布并提交审核"),
    "products.review_note": ("Review note", "审核意见"),
    "product.draft": ("Draft", "草稿"),
    "product.pending_review": ("Waiting for review", "待审核"),
    "product.listed": ("Listed", "已上架"),
    "product.rejected": ("Rejected", "已驳回"),
    "ledger.title": ("Ledger and bills", "账本与账单"),
    "ledger.empty": ("No entries yet.", "暂无记录。"),
    "bills.title": ("Bills and statement", "账单与对账"),
    "bills.billed": ("Billed (basic)", "已出账（基础）"),
    "bills.unbilled": ("Not billed yet", "未出账"),
    "bills.bill": ("Bill", "账单"),
    "bills.period": ("Period", "账期"),
    "bills.invoice": ("Invoice", "发票"),
    "bills.empty": ("No bills yet: bills are run monthly.", "暂无账单：账单按月生成。"),
    "error.title": ("That did not work", "操作未成功"),
    "error.field": ("Field", "字段"),
    "error.csrf": (
        "The form has expired or did not come from this console; reload the page and try again.",
        "表单已过期或并非来自本控制台，请刷新后重试。",
    ),
    "error.login": ("Logging in did not work", "登录未成功"),
    "error.not_found": ("Not found, or not yours to see.", "未找到，或您无权查看。"),
    "done.saved": ("Done.", "已完成。"),
}

CATALOGUE: dict[str, dict[str, str]] = {
    "en-US": {k: en for k, (en, _) in _PAIRS.items()},
    "zh-CN": {k: zh for k, (_, zh) in _PAIRS.items()},
}


def negotiate(choice: str | None, accept_language: str) -> str:
    """The user's own choice when it is a known locale; else the best of Accept-Language; else en-US."""
    if choice in LOCALES:
        return str(choice)
    ranked: list[tuple[float, int, str]] = []
    for i, part in enumerate(accept_language.split(",")):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        ranked.append((-q, i, tag.strip().lower()))
    for _, _, tag in sorted(ranked):
        for locale in LOCALES:
            if (
                tag == locale.lower()
                or tag == locale.split("-")[0].lower()
                or (tag.startswith("zh") and locale == "zh-CN")
            ):
                return locale
    return DEFAULT


def translator(locale: str) -> Callable[[str], str]:
    words = CATALOGUE.get(locale, CATALOGUE[DEFAULT])

    def t(key: str) -> str:
        return words.get(key, key)

    return t
