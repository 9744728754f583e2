"""The flow templates, one per supervised delivery type (dossier §2). Node names follow the marketplace's own
(§1.3); where the dossier only has step text and not the diagram ([?] §2.0), the node list is our reading of it.

Changing a flow means adding a new version here; running service orders keep the copy they started with.
"""

from __future__ import annotations

from services.supervision.flows import AppealPolicy, Emits, FlowTemplate, Node, Transition, nodes
from shared.schemas import DeadlineKind, DeliveryType, PartyRole

B, M = PartyRole.BUYER, PartyRole.MERCHANT
SOW_AND_ACCEPTANCE = ("sow", "acceptance_document")


def _submit(to: str = "confirm_request") -> Node:
    return Node(key="submit_request", title="Buyer submits the request", title_zh="用户提交需求", actor=B,
                actions={"submit": Transition(to=to)})


def _confirm(to: str) -> Node:
    return Node(key="confirm_request", title="Merchant confirms the request", title_zh="商家确认需求", actor=M,
                actions={"confirm": Transition(to=to, emits=Emits.MILESTONE),
                         "send_back": Transition(to="submit_request", rejection=True)})


def _deliver(key: str, title: str, title_zh: str, evidence: tuple[str, ...], action: str = "deliver",
             activation: bool = True) -> Node:
    return Node(key=key, title=title, title_zh=title_zh, actor=M, actions={
        action: Transition(to="accept", emits=Emits.MILESTONE, requires_evidence=evidence,
                           records_activation_time=activation, delivers=True)})


def _accept(back_to: str, **extra: Transition) -> Node:
    return Node(key="accept", title="Buyer confirms acceptance", title_zh="用户确认验收", actor=B, actions={
        "accept": Transition(to=None, emits=Emits.ACCEPTANCE),
        "reject": Transition(to=back_to, rejection=True), **extra})


# Manual service, standard flow (人工服务 标准服务流), dossier §2.1: the buyer submits the request, the
# merchant confirms it or sends it back, delivers with the SOW and acceptance documents and the actual
# activation time, and the buyer accepts or rejects (back to delivery).
MANUAL_STANDARD = FlowTemplate(
    template_id="manual_service.standard", version="2025-03-26", delivery_type=DeliveryType.MANUAL_SERVICE,
    start="submit_request", delivery_node="deliver",
    nodes=nodes(_submit(), _confirm("deliver"),
                _deliver("deliver", "Merchant implements and delivers", "商家实施服务", SOW_AND_ACCEPTANCE),
                _accept("deliver")))

# Manual service, website building (建站类), dossier §2.1 says only that nodes and cycle times differ [?]. [I]
# What a buyer of a website expects: a preview to approve before the final delivery.
MANUAL_SITE_BUILDING = FlowTemplate(
    template_id="manual_service.site_building", version="2025-03-26", delivery_type=DeliveryType.MANUAL_SERVICE,
    start="submit_request", delivery_node="build_site",
    nodes=nodes(_submit(), _confirm("build_site"),
                Node(key="build_site", title="Merchant builds the site and shares a preview", title_zh="商家建站",
                     actor=M, actions={"share_preview": Transition(to="review_preview", emits=Emits.MILESTONE,
                                                                   requires_evidence=("site_preview",))}),
                Node(key="review_preview", title="Buyer reviews the preview", title_zh="用户确认预览", actor=B,
                     actions={"approve_preview": Transition(to="deliver"),
                              "request_changes": Transition(to="build_site", rejection=True)}),
                _deliver("deliver", "Merchant launches and delivers", "商家实施服务", SOW_AND_ACCEPTANCE),
                _accept("build_site")))

# License 2.0 authorization code (授权码), dossier §2.2.a: implement → the buyer claims the code (no negotiated
# refund after this) → activation detected (the activation time is the validity start, §10) → delivery proof →
# the system accepts automatically (after the platform review in the review scenarios, §3.5).
LICENSE_CODE = FlowTemplate(
    template_id="license.code", version="2024-09-14", delivery_type=DeliveryType.LICENSE_CODE,
    start="implement",
    nodes=nodes(
        Node(key="implement", title="Merchant deploys and implements", title_zh="商家部署实施", actor=M,
             actions={"implement": Transition(to="claim_code", emits=Emits.MILESTONE)}),
        Node(key="claim_code", title="Buyer claims the authorization code", title_zh="用户领取授权码", actor=B,
             actions={"claim": Transition(to="activation", claims_code=True)}),
        Node(key="activation", title="Code activation detected", title_zh="授权码激活", actor=M,
             actions={"activate": Transition(to="delivery_proof", emits=Emits.MILESTONE,
                                             records_activation_time=True, activation_is_now=True)}),
        Node(key="delivery_proof", title="Merchant uploads the delivery proof", title_zh="上传交付证明", actor=M,
             actions={"upload_proof": Transition(to=None, emits=Emits.ACCEPTANCE,
                                                 requires_evidence=("acceptance_document",), delivers=True,
                                                 auto_accepts=True)}),
    ))

# License 1.0 system / hardware identifier, dossier §2.2.b.
LICENSE_IDENTIFIER = FlowTemplate(
    template_id="license.identifier", version="2024-09-14", delivery_type=DeliveryType.LICENSE_IDENTIFIER,
    start="submit_identifier", delivery_node="deliver",
    nodes=nodes(
        Node(key="submit_identifier", title="Buyer submits the system or hardware identifier",
             title_zh="提交识别码", actor=B, actions={"submit": Transition(to="deliver")}),
        _deliver("deliver", "Merchant delivers the licence for the identifier", "商家实施服务",
                 ("acceptance_document",)),
        _accept("deliver")))

# Offline License (线下 License), dossier §2.2.c: no request step; service result + deliverables.
LICENSE_OFFLINE = FlowTemplate(
    template_id="license.offline", version="2024-09-14", delivery_type=DeliveryType.LICENSE_OFFLINE,
    start="deliver", delivery_node="deliver",
    nodes=nodes(_deliver("deliver", "Merchant delivers offline", "商家线下交付", ("deliverable",)),
                _accept("deliver")))

# Software-package deployment (软件包部署), dossier §2.2.d and §2.2 (resource order number + screenshot).
LICENSE_PACKAGE = FlowTemplate(
    template_id="license.package", version="2024-09-14", delivery_type=DeliveryType.LICENSE_PACKAGE,
    start="deploy", delivery_node="deploy",
    nodes=nodes(_deliver("deploy", "Merchant deploys the software package", "软件包部署",
                         ("resource_order", "screenshot")),
                _accept("deploy")))

# Supervised SaaS (涉及服务监管的SaaS), dossier §2.3: activation delivery with a result and deliverables.
SAAS_SUPERVISED = FlowTemplate(
    template_id="saas.supervised", version="2025-03-26", delivery_type=DeliveryType.SAAS_SUPERVISED,
    start="submit_request", delivery_node="activate_delivery",
    nodes=nodes(_submit(), _confirm("activate_delivery"),
                _deliver("activate_delivery", "Merchant activates and delivers", "商家开通交付", ("deliverable",)),
                _accept("activate_delivery")))

# Hardware (硬件), dossier §2.4: no request step; shipping with logistics details; the courier's sign-off
# starts a 10-day automatic acceptance unless the courier's recipient phone differs from the buyer's.
# Appeals only past the documented thresholds (>5 days idle, >3 rejections).
HARDWARE = FlowTemplate(
    template_id="hardware.standard", version="2024-09-14", delivery_type=DeliveryType.HARDWARE,
    start="ship", delivery_node="ship", appeal_policy=AppealPolicy.THRESHOLDS,
    nodes=nodes(_deliver("ship", "Merchant ships with logistics details", "服务商实施服务", ("logistics",),
                         action="ship", activation=False),
                _accept("ship", courier_signed=Transition(to="accept", actor=M, courier_sign_off=True))
                .model_copy(update={"timer": DeadlineKind.AUTO_ACCEPTANCE})))

# Data files (数据文件类), dossier §2.5: the standard flow.
DATA_FILE = FlowTemplate(
    template_id="data_file.standard", version="2025-03-26", delivery_type=DeliveryType.DATA_FILE,
    start="submit_request", delivery_node="deliver",
    nodes=nodes(_submit(), _confirm("deliver"),
                _deliver("deliver", "Merchant delivers the data files", "商家实施服务", ("acceptance_document",)),
                _accept("deliver")))

# Application orchestration (应用编排), dossier §2.6: the merchant delivers offline and confirms; the buyer accepts.
APP_ORCHESTRATION = FlowTemplate(
    template_id="app_orchestration.standard", version="2025-03-26",
    delivery_type=DeliveryType.APP_ORCHESTRATION, start="deliver", delivery_node="deliver",
    nodes=nodes(_deliver("deliver", "Merchant delivers offline", "商家实施服务", ("acceptance_document",)),
                _accept("deliver")))

CATALOGUE: dict[str, FlowTemplate] = {t.template_id: t for t in (
    MANUAL_STANDARD, MANUAL_SITE_BUILDING, LICENSE_CODE, LICENSE_IDENTIFIER, LICENSE_OFFLINE, LICENSE_PACKAGE,
    SAAS_SUPERVISED, HARDWARE, DATA_FILE, APP_ORCHESTRATION)}
TEMPLATES: dict[DeliveryType, FlowTemplate] = {
    DeliveryType.MANUAL_SERVICE: MANUAL_STANDARD, DeliveryType.LICENSE_CODE: LICENSE_CODE,
    DeliveryType.LICENSE_IDENTIFIER: LICENSE_IDENTIFIER, DeliveryType.LICENSE_OFFLINE: LICENSE_OFFLINE,
    DeliveryType.LICENSE_PACKAGE: LICENSE_PACKAGE, DeliveryType.SAAS_SUPERVISED: SAAS_SUPERVISED,
    DeliveryType.HARDWARE: HARDWARE, DeliveryType.DATA_FILE: DATA_FILE,
    DeliveryType.APP_ORCHESTRATION: APP_ORCHESTRATION}


def template_for(delivery_type: DeliveryType, variant: str | None = None) -> FlowTemplate | None:
    """The product's chosen template (its `flow_template`, e.g. manual_service.site_building) if it fits its
    delivery type, else the delivery type's default."""
    chosen = CATALOGUE.get(variant or "")
    if chosen is not None and chosen.delivery_type is delivery_type:
        return chosen
    return TEMPLATES.get(delivery_type)
