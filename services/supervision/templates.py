"""The flow templates, one per supervised delivery type (dossier §2). Node names follow the marketplace's own
(§1.3); where the dossier only has step text and not the diagram ([?] §2.0), the node list is our reading of
it.

Changing a flow means adding a new version here; running service orders keep the copy they started with.
"""

from __future__ import annotations

from services.supervision.flows import AppealPolicy, Emits, FlowTemplate, Node, Transition, nodes
from shared.schemas import DeadlineKind, DeliveryType, PartyRole

B, M = PartyRole.BUYER, PartyRole.MERCHANT
V2024, V2025 = "2024-09-14", "2025-03-26"  # the marketplace's flow documents each template follows
SOW_AND_ACCEPTANCE = ("sow", "acceptance_document")
ACCEPTANCE_DOCUMENT = ("acceptance_document",)


def _node(key: str, title: str, title_zh: str, actor: PartyRole, **actions: Transition) -> Node:
    return Node(key=key, title=title, title_zh=title_zh, actor=actor, actions=actions)


def _submit(to: str = "confirm_request") -> Node:
    return _node("submit_request", "Buyer submits the request", "用户提交需求", B, submit=Transition(to=to))


def _confirm(to: str) -> Node:
    confirm, send_back = (
        Transition(to=to, emits=Emits.MILESTONE),
        Transition(to="submit_request", rejection=True),
    )
    return _node(
        "confirm_request",
        "Merchant confirms the request",
        "商家确认需求",
        M,
        confirm=confirm,
        send_back=send_back,
    )


def _deliver(
    key: str,
    title: str,
    title_zh: str,
    evidence: tuple[str, ...],
    action: str = "deliver",
    activation: bool = True,
) -> Node:
    delivered = Transition(
        to="accept",
        emits=Emits.MILESTONE,
        requires_evidence=evidence,
        records_activation_time=activation,
        delivers=True,
    )
    return _node(key, title, title_zh, M, **{action: delivered})


def _accept(back_to: str, **extra: Transition) -> Node:
    accept, reject = Transition(to=None, emits=Emits.ACCEPTANCE), Transition(to=back_to, rejection=True)
    return _node(
        "accept", "Buyer confirms acceptance", "用户确认验收", B, accept=accept, reject=reject, **extra
    )


def _flow(
    template_id: str,
    version: str,
    delivery_type: DeliveryType,
    *steps: Node,
    delivery_node: str | None = None,
    appeal_policy: AppealPolicy = AppealPolicy.ANY_TIME,
) -> FlowTemplate:
    """The nodes in order; the flow starts at the first."""
    return FlowTemplate(
        template_id=template_id,
        version=version,
        delivery_type=delivery_type,
        start=steps[0].key,
        nodes=nodes(*steps),
        delivery_node=delivery_node,
        appeal_policy=appeal_policy,
    )


def _standard(template_id: str, version: str, delivery_type: DeliveryType, delivery: Node) -> FlowTemplate:
    """The standard flow (标准服务流, dossier §2.1): the buyer submits the request, the merchant confirms it
    or sends it back, delivers, and the buyer accepts or rejects (back to delivery)."""
    return _flow(
        template_id,
        version,
        delivery_type,
        _submit(),
        _confirm(delivery.key),
        delivery,
        _accept(delivery.key),
        delivery_node=delivery.key,
    )


def _delivered(template_id: str, version: str, delivery_type: DeliveryType, delivery: Node) -> FlowTemplate:
    """No request step: the merchant delivers, the buyer accepts or rejects (back to delivery)."""
    return _flow(
        template_id, version, delivery_type, delivery, _accept(delivery.key), delivery_node=delivery.key
    )


# Manual service, standard flow (人工服务 标准服务流), dossier §2.1: the buyer submits the request, the
# merchant confirms it or sends it back, delivers with the SOW and acceptance documents and the actual
# activation time, and the buyer accepts or rejects (back to delivery).
_IMPLEMENTED = _deliver("deliver", "Merchant implements and delivers", "商家实施服务", SOW_AND_ACCEPTANCE)
MANUAL_STANDARD = _standard("manual_service.standard", V2025, DeliveryType.MANUAL_SERVICE, _IMPLEMENTED)

# Manual service, website building (建站类), dossier §2.1 says only that nodes and cycle times differ [?]. [I]
# What a buyer of a website expects: a preview to approve before the final delivery.
MANUAL_SITE_BUILDING = _flow(
    "manual_service.site_building",
    V2025,
    DeliveryType.MANUAL_SERVICE,
    _submit(),
    _confirm("build_site"),
    _node(
        "build_site",
        "Merchant builds the site and shares a preview",
        "商家建站",
        M,
        share_preview=Transition(
            to="review_preview", emits=Emits.MILESTONE, requires_evidence=("site_preview",)
        ),
    ),
    _node(
        "review_preview",
        "Buyer reviews the preview",
        "用户确认预览",
        B,
        approve_preview=Transition(to="deliver"),
        request_changes=Transition(to="build_site", rejection=True),
    ),
    _deliver("deliver", "Merchant launches and delivers", "商家实施服务", SOW_AND_ACCEPTANCE),
    _accept("build_site"),
    delivery_node="build_site",
)

# License 2.0 authorization code (授权码), dossier §2.2.a: implement → the buyer claims the code (no
# negotiated refund after this) → activation detected (the activation time is the validity start, §10) →
# delivery proof → the system accepts automatically (after the platform review in the review scenarios, §3.5).
LICENSE_CODE = _flow(
    "license.code",
    V2024,
    DeliveryType.LICENSE_CODE,
    _node(
        "implement",
        "Merchant deploys and implements",
        "商家部署实施",
        M,
        implement=Transition(to="claim_code", emits=Emits.MILESTONE),
    ),
    _node(
        "claim_code",
        "Buyer claims the authorization code",
        "用户领取授权码",
        B,
        claim=Transition(to="activation", claims_code=True),
    ),
    _node(
        "activation",
        "Code activation detected",
        "授权码激活",
        M,
        activate=Transition(
            to="delivery_proof", emits=Emits.MILESTONE, records_activation_time=True, activation_is_now=True
        ),
    ),
    _node(
        "delivery_proof",
        "Merchant uploads the delivery proof",
        "上传交付证明",
        M,
        upload_proof=Transition(
            to=None,
            emits=Emits.ACCEPTANCE,
            requires_evidence=ACCEPTANCE_DOCUMENT,
            delivers=True,
            auto_accepts=True,
        ),
    ),
)

# License 1.0 system / hardware identifier, dossier §2.2.b.
LICENSE_IDENTIFIER = _flow(
    "license.identifier",
    V2024,
    DeliveryType.LICENSE_IDENTIFIER,
    _node(
        "submit_identifier",
        "Buyer submits the system or hardware identifier",
        "提交识别码",
        B,
        submit=Transition(to="deliver"),
    ),
    _deliver(
        "deliver", "Merchant delivers the licence for the identifier", "商家实施服务", ACCEPTANCE_DOCUMENT
    ),
    _accept("deliver"),
    delivery_node="deliver",
)

# Offline License (线下 License), dossier §2.2.c: no request step; service result + deliverables.
_OFFLINE = _deliver("deliver", "Merchant delivers offline", "商家线下交付", ("deliverable",))
LICENSE_OFFLINE = _delivered("license.offline", V2024, DeliveryType.LICENSE_OFFLINE, _OFFLINE)

# Software-package deployment (软件包部署), dossier §2.2.d and §2.2 (resource order number + screenshot).
_DEPLOYED = _deliver(
    "deploy", "Merchant deploys the software package", "软件包部署", ("resource_order", "screenshot")
)
LICENSE_PACKAGE = _delivered("license.package", V2024, DeliveryType.LICENSE_PACKAGE, _DEPLOYED)

# Supervised SaaS (涉及服务监管的SaaS), dossier §2.3: activation delivery with a result and deliverables.
_ACTIVATED = _deliver(
    "activate_delivery", "Merchant activates and delivers", "商家开通交付", ("deliverable",)
)
SAAS_SUPERVISED = _standard("saas.supervised", V2025, DeliveryType.SAAS_SUPERVISED, _ACTIVATED)

# Hardware (硬件), dossier §2.4: no request step; shipping with logistics details; the courier's sign-off
# starts a 10-day automatic acceptance unless the courier's recipient phone differs from the buyer's.
# Appeals only past the documented thresholds (>5 days idle, >3 rejections).
_SHIPPED = _deliver(
    "ship",
    "Merchant ships with logistics details",
    "服务商实施服务",
    ("logistics",),
    action="ship",
    activation=False,
)
_SIGNED = _accept("ship", courier_signed=Transition(to="accept", actor=M, courier_sign_off=True))
HARDWARE = _flow(
    "hardware.standard",
    V2024,
    DeliveryType.HARDWARE,
    _SHIPPED,
    _SIGNED.model_copy(update={"timer": DeadlineKind.AUTO_ACCEPTANCE}),
    delivery_node="ship",
    appeal_policy=AppealPolicy.THRESHOLDS,
)

# Data files (数据文件类), dossier §2.5: the standard flow.
_DATA_DELIVERED = _deliver("deliver", "Merchant delivers the data files", "商家实施服务", ACCEPTANCE_DOCUMENT)
DATA_FILE = _standard("data_file.standard", V2025, DeliveryType.DATA_FILE, _DATA_DELIVERED)

# Application orchestration (应用编排), dossier §2.6: the merchant delivers offline and confirms; the buyer
# accepts.
_ORCHESTRATED = _deliver("deliver", "Merchant delivers offline", "商家实施服务", ACCEPTANCE_DOCUMENT)
APP_ORCHESTRATION = _delivered(
    "app_orchestration.standard", V2025, DeliveryType.APP_ORCHESTRATION, _ORCHESTRATED
)

CATALOGUE: dict[str, FlowTemplate] = {
    t.template_id: t
    for t in (
        MANUAL_STANDARD,
        MANUAL_SITE_BUILDING,
        LICENSE_CODE,
        LICENSE_IDENTIFIER,
        LICENSE_OFFLINE,
        LICENSE_PACKAGE,
        SAAS_SUPERVISED,
        HARDWARE,
        DATA_FILE,
        APP_ORCHESTRATION,
    )
}
TEMPLATES: dict[DeliveryType, FlowTemplate] = {
    DeliveryType.MANUAL_SERVICE: MANUAL_STANDARD,
    DeliveryType.LICENSE_CODE: LICENSE_CODE,
    DeliveryType.LICENSE_IDENTIFIER: LICENSE_IDENTIFIER,
    DeliveryType.LICENSE_OFFLINE: LICENSE_OFFLINE,
    DeliveryType.LICENSE_PACKAGE: LICENSE_PACKAGE,
    DeliveryType.SAAS_SUPERVISED: SAAS_SUPERVISED,
    DeliveryType.HARDWARE: HARDWARE,
    DeliveryType.DATA_FILE: DATA_FILE,
    DeliveryType.APP_ORCHESTRATION: APP_ORCHESTRATION,
}


def template_for(delivery_type: DeliveryType, variant: str | None = None) -> FlowTemplate | None:
    """The product's chosen template (its `flow_template`, e.g. manual_service.site_building) if it fits its
    delivery type, else the delivery type's default."""
    chosen = CATALOGUE.get(variant or "")
    if chosen is not None and chosen.delivery_type is delivery_type:
        return chosen
    return TEMPLATES.get(delivery_type)
