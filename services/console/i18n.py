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
    # --- lists: filters and pages
    "filter.title": ("Filters", "筛选"),
    "filter.apply": ("Apply the filters", "筛选"),
    "filter.clear": ("Clear", "清除筛选"),
    "filter.any": ("Any", "全部"),
    "filter.status": ("Status", "状态"),
    "filter.delivery_type": ("Delivery type", "交付类型"),
    "filter.created_from": ("Created from (date)", "创建日期起"),
    "filter.created_to": ("Created to (date, inclusive)", "创建日期止（含）"),
    "page.next": ("Next page", "下一页"),
    "page.first": ("First page", "第一页"),
    "page.empty": ("Nothing matches.", "没有符合条件的记录。"),
    "nav.reviews": ("Product reviews", "商品审核"),
    "nav.dead": ("Failed deliveries", "失败投递"),
    "nav.endpoints": ("Endpoint console", "接口调试台"),
    # --- service orders list (buyer, merchant, operator)
    "so.title": ("Service orders", "服务订单"),
    "so.next_deadline": ("Next deadline", "最近时限"),
    "so.node": ("Waiting at", "当前节点"),
    "delivery.manual_service": ("Manual service", "人工服务"),
    "delivery.license_code": ("License code", "License 授权码"),
    "delivery.license_identifier": ("License identifier", "License 标识"),
    "delivery.license_offline": ("Offline license", "离线 License"),
    "delivery.license_package": ("Software package", "软件包"),
    "delivery.saas_supervised": ("SaaS (supervised)", "SaaS（监管）"),
    "delivery.saas_instant": ("SaaS (instant)", "SaaS（即开即用）"),
    "delivery.hardware": ("Hardware", "硬件"),
    "delivery.data_file": ("Data file", "数据文件"),
    "delivery.app_orchestration": ("App orchestration", "应用编排"),
    "delivery.image": ("Image", "镜像"),
    "delivery.api": ("API", "API"),
    "deadline.legacy_overdue": ("Overdue (before the rules)", "超期（旧规则）"),
    # --- the operators' appeal queue
    "queue.title": ("Appeal queue", "申诉队列"),
    "queue.help": (
        "Oldest deadline first. Each appeal is answered within 3 working days; open one to resolve it.",
        "按处理时限排序，最早的在前。每个申诉须在 3 个工作日内处理；打开订单进行处理。",
    ),
    "queue.status_open": ("Open", "待处理"),
    "queue.status_escalated": ("Escalated", "已升级"),
    "queue.status_resolved": ("Resolved", "已处理"),
    "queue.overdue_only": ("Overdue only", "仅看已超时"),
    "queue.due_within": ("Due within (hours)", "时限内（小时）"),
    "queue.who": ("Assignee", "处理人"),
    "queue.anyone": ("Anyone", "全部"),
    "queue.unassigned": ("Unassigned", "未分配"),
    "queue.mine": ("Assigned to me", "分配给我"),
    "queue.you": ("you", "我"),
    "queue.sla": ("Answer by", "处理时限"),
    "queue.raised": ("Raised", "提出时间"),
    "queue.assign": ("Assign to me", "分配给我"),
    "queue.open_order": ("Open to resolve", "打开处理"),
    "sla.left": ("{} left", "剩余 {}"),
    "sla.overdue": ("overdue by {}", "已超时 {}"),
    "sla.closed": ("closed", "已结束"),
    "unit.day": ("{} d", "{}天"),
    "unit.hour": ("{} h", "{}小时"),
    "unit.minute": ("{} min", "{}分钟"),
    # --- product reviews
    "reviews.title": ("Products waiting for review", "待审核商品"),
    "reviews.empty": ("No product is waiting for review.", "暂无待审核商品。"),
    "reviews.submitted": ("Submitted", "提交时间"),
    "reviews.merchant": ("Merchant", "商家"),
    "reviews.note": ("Review note (required to reject)", "审核意见（驳回时必填）"),
    "reviews.approve": ("Approve and list", "通过并上架"),
    "reviews.reject": ("Reject", "驳回"),
    # --- dead deliveries and dead letters
    "dead.title": ("Failed deliveries and dead letters", "失败投递与死信"),
    "dead.deliveries": ("Notifications that could not be delivered", "未能送达的通知"),
    "dead.deliveries_empty": ("No failed notification.", "没有失败的通知。"),
    "dead.channel": ("Channel", "渠道"),
    "dead.message_type": ("Message", "消息类型"),
    "dead.attempts": ("Attempts", "尝试次数"),
    "dead.error": ("Last error", "最后错误"),
    "dead.letters": ("Dead letters of the {} service", "{}服务的死信"),
    "dead.letters_empty": ("No dead letter.", "没有死信。"),
    "dead.topic": ("Topic", "主题"),
    "dead.event": ("Event", "事件"),
    "dead.reason": ("Reason", "原因"),
    "dead.seen": ("Seen", "出现次数"),
    "dead.last_seen": ("Last seen", "最近出现"),
    "dead.replayed": ("Replayed", "已重放"),
    "dead.replay": ("Replay", "重放"),
    "dead.include_replayed": ("Show the replayed ones too", "同时显示已重放的"),
    "service.orders": ("orders", "订单"),
    "service.supervision": ("supervision", "监管"),
    "service.partner": ("partner", "伙伴"),
    # --- the merchant's endpoint console
    "endpoints.title": ("Endpoint console", "接口调试台"),
    "endpoints.help": (
        "The marketplace's calls to your endpoints: each endpoint's calls, failures and success rate, and "
        "the recent calls. A failed call can be replayed once it is fixed on your side.",
        "云商店对您接口的调用：每个接口的调用次数、失败次数和成功率，以及最近的调用。失败的调用可在修复后重新发起。",
    ),
    "endpoints.empty": ("No call to your endpoints yet.", "暂无对您接口的调用。"),
    "endpoints.calls": ("Calls", "调用次数"),
    "endpoints.attempts": ("Attempts", "尝试次数"),
    "endpoints.failures": ("Failed attempts", "失败次数"),
    "endpoints.success_rate": ("Success rate", "成功率"),
    "endpoints.call": ("Call", "调用"),
    "endpoints.kind": ("Kind", "类型"),
    "endpoints.last_error": ("Last attempt", "最近一次尝试"),
    "endpoints.replay": ("Replay", "重新发起"),
    "call.pending": ("Pending", "待发送"),
    "call.succeeded": ("Succeeded", "成功"),
    "call.failed": ("Failed", "失败"),
    "call.cancelled": ("Cancelled", "已取消"),
    # --- the buyer: purchased services, refunds, favourites, the message centre
    "orders.name": ("Product name contains", "商品名称包含"),
    "order_status.pending_payment": ("Waiting for payment", "待支付"),
    "order_status.processing": ("In service", "服务中"),
    "order_status.completed": ("Completed", "已完成"),
    "order_status.cancelled": ("Cancelled", "已取消"),
    "order_status.refunded": ("Refunded", "已退款"),
    "refund.title": ("Refund (unsubscribe)", "退订退款"),
    "refund.help": (
        "A supervised service is refunded as agreed with the merchant, who answers within its review time; "
        "other products can be refunded without a reason in their first days.",
        "受监管服务的退款由商家在审核时限内与您协商确定；其他商品在购买后的前几天可无理由退款。",
    ),
    "refund.reason": ("Why you ask for a refund", "退款原因"),
    "refund.amount": ("Amount asked for (CNY, empty: all that was paid)", "申请金额（元，留空为全额）"),
    "refund.submit": ("Request the refund", "申请退款"),
    "refund.state": ("Refund request", "退款申请"),
    "refund.review_by": ("The merchant answers by", "商家审核截止"),
    "refund.opinion": ("Merchant's opinion", "商家意见"),
    "refund.agreed_record": (
        "Agreed record: the document that records the agreement (required to agree)",
        "协商记录：记录双方一致意见的文件（同意时必填）",
    ),
    "refund.your_opinion": ("Your opinion (required to refuse)", "审核意见（拒绝时必填）"),
    "refund.agree": ("Agree to the refund", "同意退款"),
    "refund.refuse": ("Refuse the refund", "拒绝退款"),
    "refund_state.requested": ("Requested", "已申请"),
    "refund_state.approved": ("Approved", "已同意"),
    "refund_state.rejected": ("Rejected", "已拒绝"),
    "nav.favourites": ("Favourites", "我的收藏"),
    "favourites.title": ("My favourites", "我的收藏"),
    "favourites.empty": ("No favourite yet.", "暂无收藏。"),
    "favourites.added": ("Kept since", "收藏时间"),
    "favourites.product_id": ("Product ID", "商品编号"),
    "favourites.add": ("Keep a product", "收藏商品"),
    "favourites.remove": ("Remove", "取消收藏"),
    "favourites.buy": ("Buy", "购买"),
    "favourites.gone": ("No longer listed", "已下架"),
    "nav.recipients": ("Message centre", "消息接收管理"),
    "recipients.title": ("Message centre: who receives the messages", "消息接收管理"),
    "recipients.help": (
        "Messages go to verified addresses only: each new recipient gets an email link and an SMS code.",
        "消息只发送到已验证的地址：新接收人会收到邮件验证链接和短信验证码。",
    ),
    "recipients.empty": (
        "No recipient yet: messages go to your own account's contact.",
        "暂无接收人：消息发送至账号本人。",
    ),
    "recipients.name": ("Name", "姓名"),
    "recipients.email": ("Email", "邮箱"),
    "recipients.phone": ("Mobile phone (+86…)", "手机号（+86…）"),
    "recipients.add": ("Add the recipient", "添加接收人"),
    "recipients.new": ("A new recipient", "新增接收人"),
    "recipients.verified": ("verified", "已验证"),
    "recipients.unverified": ("not verified", "未验证"),
    "recipients.code": ("SMS code (6 digits)", "短信验证码（6 位）"),
    "recipients.verify": ("Verify the phone", "验证手机"),
    "recipients.resend": ("Send the verification again", "重新发送验证"),
    # --- the provider's selling
    "nav.selling": ("Links, offers and demands", "专属链接、报价与商机"),
    "selling.title": ("Private links, offers and demands", "专属链接、专属报价与商机报备"),
    "selling.customer": ("Customer account ID", "客户账号 ID"),
    "selling.customer_optional": ("Customer account ID (optional)", "客户账号 ID（可选）"),
    "selling.product_id": ("Product ID", "商品编号"),
    "selling.offer_id": ("Offer ID", "报价编号"),
    "selling.demand_id": ("Demand ID", "商机编号"),
    "selling.open": ("Open an offer or a demand", "查看报价或商机"),
    "selling.offers": ("My offers", "我的报价"),
    "selling.no_offers": ("No offer yet.", "暂无报价。"),
    "selling.demands": ("My demands", "我的商机报备"),
    "selling.no_demands": ("No demand filed yet.", "暂无商机报备。"),
    "nav.offer_approvals": ("Offers to approve", "报价特批"),
    "approvals.title": ("Offers waiting for an operator's approval", "待运营特批的报价"),
    "approvals.help": (
        "These offers go beyond the product's authorized discount: approve one and it takes effect; "
        "reject it with the reason its issuer reads.",
        "以下报价超出商品授权折扣：特批后立即生效；驳回须填写原因，发起方可见。",
    ),
    "approvals.empty": ("No offer is waiting for approval.", "暂无待特批的报价。"),
    "approvals.issuer": ("Issued by", "发起方"),
    "approvals.note": ("Reason (required to reject)", "审批意见（驳回时必填）"),
    "approvals.approve": ("Approve", "特批通过"),
    "approvals.reject": ("Reject", "驳回"),
    "link.title": ("A private link", "生成专属链接"),
    "link.help": (
        "An order placed through the link is yours (its earning goes to your ledger). Give a product or an "
        "offer; a customer makes it that customer's only.",
        "通过此链接下的订单归属于您（收益计入您的账本）。填写商品或报价；填写客户则仅限该客户使用。",
    ),
    "link.days": ("Valid for (days)", "有效期（天）"),
    "link.make": ("Make the link", "生成链接"),
    "link.made": ("The private link", "专属链接"),
    "link.token": ("Link token: copy it and send it to the customer", "链接令牌：复制后发送给客户"),
    "link.expires": ("Expires", "过期时间"),
    "offer.title": ("Offer", "报价"),
    "offer.new": ("An exclusive offer", "新建专属报价"),
    "offer.help": (
        "Within your authorized discount it takes effect at once; beyond it an operator approves it first.",
        "在授权折扣内立即生效；超出授权折扣需运营特批。",
    ),
    "offer.name": ("Offer name", "报价名称"),
    "offer.products": ("Product IDs (comma-separated)", "商品编号（逗号分隔）"),
    "offer.discount": ("Discount (price factor, 0.90 = 10% off)", "折扣（价格系数，0.90 即九折）"),
    "offer.valid_from": ("Valid from (date)", "生效日期"),
    "offer.valid_until": ("Valid until (date, inclusive)", "截止日期（含）"),
    "offer.make": ("Make the offer", "创建报价"),
    "offer.withdraw": ("Withdraw the offer", "撤回报价"),
    "offer.decision_note": ("Operator's note", "运营意见"),
    "offer_status.effective": ("Effective", "已生效"),
    "offer_status.manual_handling": ("Waiting for an operator's approval", "待运营特批"),
    "offer_status.rejected": ("Rejected", "已驳回"),
    "offer_status.withdrawn": ("Withdrawn", "已撤回"),
    "demand.title": ("Demand", "商机"),
    "demand.new": ("File a customer demand", "商机报备"),
    "demand.help": (
        "Filed with the merchant of the product, who answers it with an offer for the customer.",
        "报备给商品所属商家，商家以专属报价回应客户。",
    ),
    "demand.merchant": ("Merchant account ID", "商家账号 ID"),
    "demand.description": ("What the customer needs", "客户需求"),
    "demand.file": ("File the demand", "提交报备"),
    "demand_status.submitted": ("Submitted", "已提交"),
    "demand_status.offered": ("Offered", "已报价"),
    "demand_status.won": ("Won", "已成交"),
}

# The service orders' and products' enumerations as the services name them (their OpenAPI documents).
SO_STATUSES = ("active", "frozen", "refunding", "completed", "refunded")
DELIVERY_TYPES = (
    "manual_service",
    "license_code",
    "license_identifier",
    "license_offline",
    "license_package",
    "saas_supervised",
    "saas_instant",
    "hardware",
    "data_file",
    "app_orchestration",
    "image",
    "api",
)
APPEAL_STATUSES = ("open", "escalated", "resolved")
ORDER_STATUSES = ("pending_payment", "processing", "completed", "cancelled", "refunded")

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


def duration(minutes: int, t: Callable[[str], str]) -> str:
    """A length of time in its two largest units (days and hours, or hours and minutes, or minutes)."""
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        parts = [t("unit.day").format(days), *([t("unit.hour").format(hours)] if hours else [])]
    elif hours:
        parts = [t("unit.hour").format(hours), *([t("unit.minute").format(mins)] if mins else [])]
    else:
        parts = [t("unit.minute").format(mins)]
    return " ".join(parts)


def countdown(remaining_seconds: int | float | None, t: Callable[[str], str]) -> tuple[str, bool]:
    """An appeal's SLA as the queue shows it (supervision's `remaining_seconds`: negative once it has passed,
    none once the appeal is resolved): the words, and whether it is overdue."""
    if remaining_seconds is None:
        return t("sla.closed"), False
    seconds = int(remaining_seconds)
    minutes = -(-abs(seconds) // 60)  # started minutes: "0 min left" only when it is due this very second
    if seconds < 0:
        return t("sla.overdue").format(duration(minutes, t)), True
    return t("sla.left").format(duration(minutes, t)), False
