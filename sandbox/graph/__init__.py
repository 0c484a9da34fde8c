"""Microsoft Graph v1.0 emulator (calendar events, subscriptions, delta, free/busy) plus the
Microsoft identity token endpoint, served by one aiohttp application."""

from sandbox.graph.app import build_graph_app
from sandbox.graph.client import GraphControl
from sandbox.graph.state import GraphWorld

__all__ = ["GraphControl", "GraphWorld", "build_graph_app"]
