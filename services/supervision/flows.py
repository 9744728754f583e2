"""Flow templates: versioned data, one per delivery type. A service order keeps the template it started with,
so publishing a new version never changes a running service order.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from shared.schemas import DeliveryType, PartyRole


class Emits(StrEnum):
    MILESTONE = "milestone"  # milestone.confirmed
    ACCEPTANCE = "acceptance"  # acceptance.done, and the service order completes


class Transition(BaseModel):
    model_config = ConfigDict(frozen=True)

    to: str | None  # None: the service order is complete
    emits: Emits | None = None
    requires_evidence: tuple[str, ...] = ()
    records_activation_time: bool = False


class Node(BaseModel):
    model_config = ConfigDict(frozen=True)

    key: str
    title: str
    title_zh: str
    actor: PartyRole
    actions: dict[str, Transition]


class FlowTemplate(BaseModel):
    model_config = ConfigDict(frozen=True)

    template_id: str
    version: str
    delivery_type: DeliveryType
    start: str
    nodes: dict[str, Node]

    def node(self, key: str) -> Node:
        return self.nodes[key]


def _nodes(*nodes: Node) -> dict[str, Node]:
    return {n.key: n for n in nodes}


# Manual service, standard flow (人工服务 标准服务流), dossier §2.1: the buyer submits the request, the
# merchant confirms it or sends it back, delivers with the SOW and acceptance documents and the actual
# activation time, and the buyer accepts or rejects (back to delivery).
MANUAL_STANDARD = FlowTemplate(
    template_id="manual_service.standard",
    version="2025-03-26",
    delivery_type=DeliveryType.MANUAL_SERVICE,
    start="submit_request",
    nodes=_nodes(
        Node(key="submit_request", title="Buyer submits the request", title_zh="用户提交需求",
             actor=PartyRole.BUYER, actions={"submit": Transition(to="confirm_request")}),
        Node(key="confirm_request", title="Merchant confirms the request", title_zh="商家确认需求",
             actor=PartyRole.MERCHANT,
             actions={"confirm": Transition(to="deliver", emits=Emits.MILESTONE),
                      "send_back": Transition(to="submit_request")}),
        Node(key="deliver", title="Merchant implements and delivers", title_zh="商家实施服务",
             actor=PartyRole.MERCHANT,
             actions={"deliver": Transition(to="accept", emits=Emits.MILESTONE,
                                            requires_evidence=("sow", "acceptance_document"),
                                            records_activation_time=True)}),
        Node(key="accept", title="Buyer confirms acceptance", title_zh="用户确认验收", actor=PartyRole.BUYER,
             actions={"accept": Transition(to=None, emits=Emits.ACCEPTANCE),
                      "reject": Transition(to="deliver")}),
    ),
)

TEMPLATES: dict[DeliveryType, FlowTemplate] = {MANUAL_STANDARD.delivery_type: MANUAL_STANDARD}


def template_for(delivery_type: DeliveryType) -> FlowTemplate | None:
    return TEMPLATES.get(delivery_type)
