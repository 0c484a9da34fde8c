"""The Dockerfile builds in one stage and runs in another: the runtime stage is the slim
interpreter with the venv, a fixed non-root user and `calbridge` as its entrypoint.

No container engine runs here, so this reads the Dockerfile's instructions."""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BUILD_TOOLS = ("build-essential", "gcc", "g++", "make", "cargo", "rustc", "clang", "-dev")


@dataclass(frozen=True)
class Instruction:
    keyword: str
    value: str


def parse(text: str) -> list[Instruction]:
    """Dockerfile instructions with line continuations joined and comments dropped."""
    instructions: list[Instruction] = []
    current = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not current and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        current += line
        keyword, _, value = current.partition(" ")
        instructions.append(Instruction(keyword.upper(), value.strip()))
        current = ""
    return instructions


def stages(instructions: list[Instruction]) -> list[list[Instruction]]:
    result: list[list[Instruction]] = []
    for ins in instructions:
        if ins.keyword == "FROM":
            result.append([])
        if result:
            result[-1].append(ins)
    return result


DOCKERFILE = parse((REPO / "Dockerfile").read_text())
STAGES = stages(DOCKERFILE)
FINAL = STAGES[-1]


def test_the_image_is_built_in_a_separate_stage_from_the_one_that_runs() -> None:
    assert len(STAGES) >= 2
    builder = STAGES[0][0].value
    assert re.search(r"\bAS\s+builder\b", builder, re.IGNORECASE)
    assert any(i.keyword == "COPY" and "--from=builder" in i.value for i in FINAL)


def test_the_runtime_stage_is_python_311_slim_without_build_tools() -> None:
    assert FINAL[0].value.split()[0] == "python:3.11-slim"
    for ins in FINAL:
        if ins.keyword == "RUN":
            assert "pip install" not in ins.value, "the runtime stage installs packages itself"
            if "apt-get install" in ins.value or "apk add" in ins.value:
                for tool in BUILD_TOOLS:
                    assert tool not in ins.value, f"the runtime stage installs {tool}"


def test_the_runtime_stage_runs_as_a_fixed_non_root_user() -> None:
    users = [i.value for i in FINAL if i.keyword == "USER"]
    assert users, "the runtime stage has no USER"
    uid, _, gid = users[-1].partition(":")
    assert uid.isdigit() and int(uid) > 0, "USER must be a numeric non-zero UID (runAsNonRoot checks it)"
    assert not gid or (gid.isdigit() and int(gid) > 0)
    # the Kubernetes manifests run as the same UID
    for manifest in (REPO / "k8s" / "base").glob("*.yaml"):
        for match in re.findall(r"runAsUser: (\d+)", manifest.read_text()):
            assert match == uid, f"{manifest.name} runs as {match}, the image as {uid}"


def test_the_entrypoint_is_the_calbridge_command() -> None:
    entrypoints = [i.value for i in FINAL if i.keyword == "ENTRYPOINT"]
    assert entrypoints and json.loads(entrypoints[-1]) == ["calbridge"], "ENTRYPOINT must be exec form"
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    assert "calbridge" in scripts


def test_the_runtime_never_writes_bytecode_and_never_buffers_logs() -> None:
    env = " ".join(i.value for i in FINAL if i.keyword == "ENV")
    assert "PYTHONDONTWRITEBYTECODE=1" in env
    assert "PYTHONUNBUFFERED=1" in env


def test_the_build_context_leaves_out_repository_noise() -> None:
    ignored = {
        line.strip()
        for line in (REPO / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert {".git", ".venv", "tests", "k8s"} <= ignored
    assert "README.md" not in ignored, "pyproject.toml names README.md as the readme: the build needs it"
