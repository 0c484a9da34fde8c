"""What every Graph handler can reach: the world and the shared sandbox pieces."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sandbox.clock import Clock
from sandbox.counters import Counters
from sandbox.faults import Faults
from sandbox.graph.state import GraphWorld
from sandbox.graph.throttle import MailboxGate, MailboxQuota

if TYPE_CHECKING:
    from sandbox.graph.delta import DeltaStore
    from sandbox.graph.notify import Notifier
    from sandbox.graph.routing import Route

__all__ = ["GraphContext"]


@dataclass
class GraphContext:
    world: GraphWorld
    faults: Faults
    clock: Clock
    counters: Counters
    gate: MailboxGate
    quota: MailboxQuota
    notifier: Notifier
    delta: DeltaStore
    routes: list[Route] = field(default_factory=list)
