"""Milestone delivery (里程碑, dossier §4.2): the order is delivered and accepted stage by stage, in order;
each accepted stage is confirmed, and the last one completes the service order."""

from __future__ import annotations

from datetime import datetime

from services.supervision.service_order.records import MilestoneState


def accept_next(milestones: list[MilestoneState], now: datetime) -> MilestoneState:
    """The first stage not accepted yet is accepted now."""
    current = next(m for m in milestones if m.accepted_at is None)
    current.accepted_at = now
    return current


def all_accepted(milestones: list[MilestoneState]) -> bool:
    return all(m.accepted_at is not None for m in milestones)
