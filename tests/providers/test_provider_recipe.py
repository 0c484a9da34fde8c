"""The recipe for a new provider holds, by counting (docs/providers.md, "Adding a provider").

Adding a provider is one folder, one registry line, one receiver parser (for a push provider)
and one emulator, and no other module branches on a specific provider: the rest of calbridge
asks the provider's profile.
"""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from calbridge.events import Provider
from calbridge.providers.profile import DeliveryMode
from calbridge.providers.registry import PROFILES, profile_for

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("calbridge", "calbridge_app", "receiver", "ews_listener", "processor", "subscriptions")
SLICE_MODULES = {"profile", "connection", "adapter", "client", "errors", "translate", "freebusy"}
PUSH_MODULES = {"subscriptions"}  # what the renewer creates, renews and stops subscriptions through

# Places outside a provider's own slice and parser that may still name that provider, each with
# the reason. Keep it short: anything else asks the profile.
ALLOWED: dict[str, tuple[Provider, str]] = {
    "ews_listener/": (
        Provider.EWS,
        "the EWS provider's delivery service: for a streaming provider it is what a receiver "
        "parser is for a push provider",
    ),
    "calbridge/pairs/spec.py": (
        Provider.GOOGLE,
        "a pair joins a Google calendar to a Microsoft one: its Google side is the Google "
        "provider by definition (provider_of), not a branch on a provider",
    ),
}


def named_providers(tree: ast.AST) -> list[tuple[int, Provider]]:
    """Every `Provider.<MEMBER>` in a module, with its line."""
    return [
        (node.lineno, Provider[node.attr])
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id == "Provider"
        and node.attr in Provider.__members__
    ]


def own_provider(relative: str) -> Provider | None:
    """The provider a module belongs to: its slice, or its receiver parser; None elsewhere."""
    parts = relative.split("/")
    names = {p.value for p in Provider}
    if parts[:2] == ["calbridge", "providers"] and len(parts) > 3 and parts[2] in names:
        return Provider(parts[2])
    if parts[0] == "receiver" and len(parts) == 2 and parts[1].removesuffix(".py") in names:
        return Provider(parts[1].removesuffix(".py"))
    return None


def allowance(relative: str) -> str | None:
    return next((prefix for prefix in ALLOWED if relative.startswith(prefix)), None)


def branches_outside_their_place() -> tuple[list[str], set[str]]:
    """(`path:line names X` for every misplaced mention, the allow-list entries that were used)."""
    misplaced: list[str] = []
    used: set[str] = set()
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            relative = str(path.relative_to(ROOT))
            for line, provider in named_providers(ast.parse(path.read_text())):
                if own_provider(relative) is provider:
                    continue
                prefix = allowance(relative)
                if prefix is not None and ALLOWED[prefix][0] is provider:
                    used.add(prefix)
                    continue
                misplaced.append(f"{relative}:{line} names {provider.name}")
    return misplaced, used


@pytest.mark.parametrize("provider", list(Provider))
def test_every_provider_has_its_slice_with_the_modules_its_delivery_calls_for(provider: Provider) -> None:
    folder = ROOT / "calbridge" / "providers" / provider.value
    present = {path.stem for path in folder.glob("*.py")}
    expected = SLICE_MODULES | (
        PUSH_MODULES if profile_for(provider).delivery is DeliveryMode.PUSH else set()
    )
    assert expected <= present, f"{folder} lacks {sorted(expected - present)}"


def test_every_provider_has_exactly_one_registry_line_and_it_is_its_slices_profile() -> None:
    # Given the registry's table
    counts = Counter(profile.provider for profile in PROFILES)
    # Then each provider appears once, and nothing else does
    assert counts == Counter(set(Provider))
    for profile in PROFILES:
        own = importlib.import_module(f"calbridge.providers.{profile.provider.value}.profile")
        assert own.PROFILE is profile, f"the registry's {profile.provider} line is not its slice's PROFILE"
    # And the table is written one line per provider
    source = (ROOT / "calbridge" / "providers" / "registry.py").read_text()
    table = next(
        node.value
        for node in ast.parse(source).body
        if isinstance(node, ast.AnnAssign)
        and isinstance(node.target, ast.Name)
        and node.target.id == "PROFILES"
    )
    assert isinstance(table, ast.Tuple) and len(table.elts) == len(Provider)
    assert len({element.lineno for element in table.elts}) == len(Provider)


def test_every_push_provider_has_its_receiver_parser_on_its_profiles_routes() -> None:
    from receiver.app import PARSERS

    push = {profile.provider for profile in PROFILES if profile.delivery is DeliveryMode.PUSH}
    served = Counter(parser.profile.provider for parser in PARSERS)
    assert served == Counter(push)
    for parser in PARSERS:
        provider = parser.profile.provider
        assert (ROOT / "receiver" / f"{provider.value}.py").is_file()
        assert importlib.import_module(f"receiver.{provider.value}").PARSER is parser
        assert parser.profile is profile_for(provider)
        assert parser.routes[0] == profile_for(provider).notification_path


@pytest.mark.parametrize("provider", list(Provider))
def test_every_provider_has_its_emulator(provider: Provider) -> None:
    assert (ROOT / "sandbox" / provider.value / "app.py").is_file()


def test_no_module_outside_a_providers_own_places_names_a_specific_provider() -> None:
    misplaced, used = branches_outside_their_place()
    assert misplaced == [], "ask the provider's profile instead:\n" + "\n".join(misplaced)
    # Every allow-list entry is still needed, and says why
    assert used == set(ALLOWED), f"no longer needed: {sorted(set(ALLOWED) - used)}"
    assert all(len(reason) > 40 for _, reason in ALLOWED.values())


def test_the_scan_sees_a_branch_on_a_provider_and_knows_whose_places_are_whose() -> None:
    # Given a module that branches on a provider
    tree = ast.parse("if p == Provider.GRAPH:\n    limit = 4\nelse:\n    x = Provider('ews')\n")
    # Then the scan names the member it branches on
    assert named_providers(tree) == [(1, Provider.GRAPH)]
    # And a slice or a parser is its own provider's place only
    assert own_provider("calbridge/providers/graph/adapter.py") is Provider.GRAPH
    assert own_provider("receiver/google.py") is Provider.GOOGLE
    assert own_provider("receiver/app.py") is None
    assert own_provider("calbridge/providers/registry.py") is None
    assert allowance("ews_listener/stream.py") == "ews_listener/"


def test_reading_the_profiles_loads_no_provider_sdk() -> None:
    # Given a fresh interpreter that imports what the receiver's hot path and the planner read
    code = (
        "import sys, calbridge.providers.registry, calbridge.tokens, calbridge.freebusy.orchestrate\n"
        "import receiver.app\n"
        "sdks = ('googleapiclient', 'msgraph', 'exchangelib', 'azure.identity')\n"
        "print(sorted(m for m in sdks if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT
    )
    # Then no SDK was imported: the openers load their slice's SDK when first called
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
