"""The manifests run commands the `calbridge` CLI has and set only settings calbridge reads.

Expected names: commands `receiver`, `processor`, `renewer`, `db upgrade`; settings
CALBRIDGE_AMQP_URL, _DATABASE_URL, _SIGNING_KEYS, _SECRET_KEY, _PUBLIC_URL, _LOG_FORMAT,
_LOG_LEVEL, _SHARD_COUNT, _RECEIVER_PORT, _PROCESSOR_HTTP_PORT, _RENEWER_HTTP_PORT,
_DRAIN_TIMEOUT.
"""

from __future__ import annotations

from typing import Any

import pytest
import typer
from k8s_manifests import OVERLAYS, Doc, containers, env_names, pod_specs

from calbridge.settings import ENV_PREFIX, Settings
from calbridge_app.cli import app


def _is_group(command: Any) -> bool:
    # typer builds on its own copy of click, so look for the group's command table
    return isinstance(getattr(command, "commands", None), dict)


def _resolve(command: Any, args: list[str]) -> Any | None:
    """Follow args through command groups; None if a name is not registered."""
    for arg in args:
        if arg.startswith("-") or not _is_group(command):
            break
        sub = command.commands.get(arg)
        if sub is None:
            return None
        command = sub
    return command


def _calbridge_containers(docs: list[Doc]) -> list[tuple[str, Doc]]:
    return [
        (f"{doc['kind']}/{doc['metadata']['name']} {c['name']}", c)
        for doc, pod in pod_specs(docs)
        for c in containers(pod)
        if "calbridge/calbridge" in c["image"] or c["image"].split(":")[0] == "calbridge"
    ]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_container_runs_a_registered_calbridge_command(
    rendered: dict[str, list[Doc]], overlay: str
) -> None:
    root = typer.main.get_command(app)
    found = _calbridge_containers(rendered[overlay])
    assert len(found) >= 4
    problems = []
    for where, c in found:
        args = c.get("args", [])
        assert "command" not in c, f"{where}: overrides the image's ENTRYPOINT"
        command = _resolve(root, args)
        if command is None or _is_group(command):
            problems.append(f"{where}: `calbridge {' '.join(args)}` is not a calbridge command")
    assert problems == [], "\n".join(problems)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_calbridge_variable_is_a_setting(rendered: dict[str, list[Doc]], overlay: str) -> None:
    fields = {ENV_PREFIX + name.upper() for name in Settings.model_fields}
    problems = []
    for where, c in _calbridge_containers(rendered[overlay]):
        for name in sorted(env_names(rendered[overlay], c)):
            if not name.startswith(ENV_PREFIX):
                problems.append(f"{where}: {name} is not a calbridge setting")
            elif name not in fields:
                problems.append(f"{where}: {name} is not a field of calbridge.settings.Settings")
    assert problems == [], "\n".join(problems)
