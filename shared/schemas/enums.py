"""Vocabulary shared by the events (names follow the marketplace dossier's glossary)."""

from enum import StrEnum


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


class AppealOutcome(StrEnum):
    RESUME = "resume"  # back to the node the flow was frozen at
    COMPLETE = "complete"
    REFUND = "refund"
