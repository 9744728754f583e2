"""Flow templates: versioned data, one per delivery type. A service order keeps (a copy of) the template it
started with, so publishing a new version never changes a running service order (dossier §2.0: "version the
rules in your implementation; don't hard-code a single flow").

A template is plain data: its nodes, the actor of each node, and for each action where it leads, what it
emits, which evidence it requires and which timer it starts. The data itself is in `templates.py`.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from shared.schemas import DeadlineKind, DeliveryType, PartyRole


class Emits(StrEnum):
    MILESTONE = "milestone"  # milestone.confirmed
    ACCEPTANCE = "acceptance"  # acceptance.done, and the service order completes


class Transition(BaseModel):
    model_config = ConfigDict(frozen=True)

    to: str | None  # None: the service order is complete
    emits: Emits | None = None
    requires_evidence: tuple[str, ...] = ()
    records_activation_time: bool = False
    actor: PartyRole | None = (
        None  # None: the node's actor; e.g. the courier sign-off is reported by the merchant
    )
    rejection: bool = False  # counts toward the ">3 rejections" appeal threshold (dossier §5.1)
    claims_code: bool = False  # License 2.0: after this, negotiated refunds are refused (dossier §1.4)
    activation_is_now: bool = (
        False  # License 2.0: the activation time is the detected activation (dossier §10)
    )
    courier_sign_off: bool = False  # hardware: starts auto-acceptance unless the phones differ (dossier §2.4)
    delivers: bool = (
        False  # the merchant's delivery: a platform review is inserted after it where the rule says
    )
    auto_accepts: bool = False  # the system, not the actor, accepts (License 2.0, dossier §2.2.a 5a/5b)


class Node(BaseModel):
    model_config = ConfigDict(frozen=True)

    key: str
    title: str
    title_zh: str  # the marketplace's own name of the step (dossier §1.3)
    actor: PartyRole  # whose step it is
    actions: dict[str, Transition]  # what the actor can do here, by name
    timer: DeadlineKind | None = None  # a timer the node runs while the flow waits here (besides idle)


class AppealPolicy(StrEnum):
    ANY_TIME = "any_time"  # dossier §5.1: buyer or merchant, at any node, at any time
    THRESHOLDS = "thresholds"  # dossier §2.4 (hardware): only after >5 days idle or >3 rejections


class FlowTemplate(BaseModel):
    model_config = ConfigDict(frozen=True)

    template_id: str
    version: str  # the date of the marketplace's flow document it follows
    delivery_type: DeliveryType
    start: str  # the first node
    nodes: dict[str, Node]
    delivery_node: str | None = None  # where an accepted milestone that is not the last one loops back to
    appeal_policy: AppealPolicy = AppealPolicy.ANY_TIME
    platform_review: bool = False

    def node(self, key: str) -> Node:
        return self.nodes[key]

    def with_platform_review(self) -> FlowTemplate:
        """The joint-operation variant (dossier §3.1, §3.5): after the merchant's delivery the flow goes to a
        华为云复核 node; the operator approves (on to where the delivery led) or sends it back to the
        delivery."""
        nodes = dict(self.nodes)
        for node in self.nodes.values():
            for name, tr in node.actions.items():
                if not tr.delivers:
                    continue
                review = Node(
                    key="platform_review",
                    title="Platform review of the acceptance document",
                    title_zh="华为云复核",
                    actor=PartyRole.OPERATOR,
                    actions={
                        "approve": Transition(
                            to=tr.to, emits=tr.emits or Emits.MILESTONE, auto_accepts=tr.auto_accepts
                        ),
                        "reject": Transition(to=node.key, rejection=True),
                    },
                )
                emits = Emits.MILESTONE if tr.emits is Emits.ACCEPTANCE else tr.emits
                delivered = tr.model_copy(update={"to": review.key, "emits": emits, "auto_accepts": False})
                nodes[node.key] = node.model_copy(update={"actions": {**node.actions, name: delivered}})
                nodes[review.key] = review
        return self.model_copy(
            update={"nodes": nodes, "version": f"{self.version}+review", "platform_review": True}
        )


def nodes(*items: Node) -> dict[str, Node]:
    return {n.key: n for n in items}
