"""Vocabulary shared by the events (names follow the marketplace dossier's glossary)."""

from enum import StrEnum

__all__ = [
    "AccountRole",
    "AppealOutcome",
    "BillingMode",
    "BuyerTrack",
    "CouponKind",
    "DeadlineKind",
    "DeliveryType",
    "NoticeKind",
    "OrderStatus",
    "PartyRole",
    "SaleMode",
]


class AccountRole(StrEnum):
    BUYER = "buyer"
    MERCHANT = "merchant"
    PROVIDER = "provider"  # customer service provider (客户服务商)
    OPERATOR = "operator"  # platform operations manager (运营经理)


class PartyRole(StrEnum):
    """Who acted on a service order."""

    BUYER = "buyer"
    MERCHANT = "merchant"
    OPERATOR = "operator"
    SYSTEM = "system"


class DeliveryType(StrEnum):
    """How a product is delivered; decides whether (and which) supervision flow applies (dossier §1.2)."""

    MANUAL_SERVICE = "manual_service"
    LICENSE_CODE = "license_code"  # License 2.0 authorization code
    LICENSE_IDENTIFIER = "license_identifier"  # License 1.0 system / hardware identifier
    LICENSE_OFFLINE = "license_offline"
    LICENSE_PACKAGE = "license_package"  # software-package deployment
    SAAS_SUPERVISED = "saas_supervised"
    SAAS_INSTANT = "saas_instant"  # instant-use SaaS: not supervised
    HARDWARE = "hardware"
    DATA_FILE = "data_file"
    APP_ORCHESTRATION = "app_orchestration"
    IMAGE = "image"
    API = "api"

    @property
    def supervised(self) -> bool:
        """Dossier §1.2: image, API and instant-use SaaS create no service order."""
        return self not in {DeliveryType.SAAS_INSTANT, DeliveryType.IMAGE, DeliveryType.API}


class SaleMode(StrEnum):
    GENERAL = "general"  # 通用
    JOINT_OPERATION = "joint_operation"  # 联营
    SELF_SERVICE = "self_service"  # 自服务


class BillingMode(StrEnum):
    ONE_TIME = "one_time"
    PERIODIC_YEARLY = "periodic_yearly"
    PERIODIC_MONTHLY = "periodic_monthly"
    PAY_PER_USE = "pay_per_use"  # 按需
    PAY_PER_USE_PACKAGE = "pay_per_use_package"
    PER_USE = "per_use"  # 按次


class BuyerTrack(StrEnum):
    """Sales track (赛道) of the buyer; decides the joint-operation acceptance rule (dossier §3.1)."""

    EMPOWERMENT_CLOUD = "empowerment_cloud"  # 赋能云
    BASE_CLOUD = "base_cloud"  # 基地云


class CouponKind(StrEnum):
    EMPOWERMENT_CLOUD_CASH = "empowerment_cloud_cash"  # 赋能云现金券
    BASE_CLOUD_VOUCHER = "base_cloud_voucher"  # 基地云提货券
    OTHER = "other"


class OrderStatus(StrEnum):
    """Purchase-order statuses (dossier §1.3) plus refunded (negotiated refund, §1.4)."""

    PENDING_PAYMENT = "pending_payment"  # 待付款
    PROCESSING = "processing"  # 处理中
    COMPLETED = "completed"  # 已完成
    CANCELLED = "cancelled"  # 已取消
    REFUNDED = "refunded"


class DeadlineKind(StrEnum):
    AUTO_ACCEPTANCE = "auto_acceptance"  # the system accepts when it passes
    APPEAL_SLA = "appeal_sla"  # the operator must resolve the appeal by then (3 working days)
    IDLE = "idle"  # a party's step has waited too long (>5 days makes an appeal possible)
    LONG_RUNNING = "long_running"  # 180 days without acceptance: remind the BD and the merchant
    LEGACY_OVERDUE = "legacy_overdue"  # legacy orders, 365 days without acceptance: unsubscribed (§1.5)


class AppealOutcome(StrEnum):
    RESUME = "resume"  # back to the node the flow was frozen at
    COMPLETE = "complete"
    REFUND = "refund"


class NoticeKind(StrEnum):
    """What a `notice.requested` asks notification to tell (dossier §6.3 and the flows that name a notice).

    Each kind is one message type in notification's catalogue, with its category and default channels; the
    producer says only who is told and what the message is about.
    """

    APPEAL_ESCALATED = "appeal_escalated"  # §5.3: the appeal SLA ran out; operators and both parties
    PRODUCT_FROZEN = "product_frozen"  # §8.2.2/§2.3: interface failures or dial tests froze trading
    PRODUCT_DELISTED = "product_delisted"  # §8.2.2: delisted after repeated interface failures
    INSTANCE_RELEASED = "instance_released"  # §8.2.5: an expired, unrenewed instance was released
    ACTIVATION_FAILED = "activation_failed"  # §6.3 "SaaS/API resource activation failed" (101)
    RENEWAL = "renewal"  # §6.3 "user renewed a periodic product"
    EXPIRY_REMINDER = "expiry_reminder"  # §6.3: 15, 7, 3, 1 days before expiry, 10:00 Beijing
    TRIAL_CONVERSION_REMINDER = "trial_conversion_reminder"  # §6.3: trial → commercial, same days and hour
    LISTING_REVIEW_RESULT = "listing_review_result"  # §6.3: the listing review's result, to the merchant
    LONG_RUNNING_REMINDER = "long_running_reminder"  # §1.5: 180 days; merchant, buyer's account manager
    SUPERVISION_AUTO_UNSUBSCRIBED = "supervision_auto_unsubscribed"  # §1.5/§6.3: legacy overdue supervision
    RETURN_REVIEW_OVERDUE = "return_review_overdue"  # §1.4: the merchant did not review a return in time
    INVOICE_REQUESTED = "invoice_requested"  # §6.3 "general-product invoice request" (901)
    STATEMENT_STATUS = "statement_status"  # §4.3/§7.6: a settlement statement in review, sent or paid
    BILL_STATUS = "bill_status"  # §7.6: a provider bill in review, sent or paid
    ORDER_REMINDER = "order_reminder"  # §9.2: the buyer reminds the seller (催促)
    DIAL_TEST_FAILED = "dial_test_failed"  # §8.2.8/§6.3 "SaaS interface exception" (501): to the merchant
