"""`calbridge demo`: the whole system against the sandbox, in one process."""

from __future__ import annotations

from calbridge.cli.common import fail


def demo() -> None:
    """Run the scripted demo: sandbox, receiver, processor and renewer in one process."""
    fail(
        "the demo is not available in this build yet: it needs the sandbox, receiver and processor. "
        "Run the tests (scripts/test) to see what exists."
    )
