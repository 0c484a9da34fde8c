"""One home per concept: no public class, enum or type alias is defined in two modules.

Two definitions of one name are either the same idea twice (import it from its home instead) or
two ideas under one name (give one of them its own name). Either way this test points at them.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("calbridge", "calbridge_app", "receiver", "ews_listener", "processor", "subscriptions")


def defined_names(tree: ast.Module) -> list[str]:
    """Top-level classes and type aliases (`Name = A | B`, `Name = Literal[...]`,
    `Name = Callable[...]`) that a module defines, public ones only."""
    names: list[str] = []
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            names.append(node.name)
        elif (
            isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)
        ):
            name = node.targets[0].id
            is_alias = isinstance(node.value, ast.BinOp | ast.Subscript)
            if name[:1].isupper() and not name.isupper() and is_alias:
                names.append(name)
    return [name for name in names if not name.startswith("_")]


def homes() -> dict[str, list[str]]:
    found: dict[str, list[str]] = defaultdict(list)
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            for name in defined_names(ast.parse(path.read_text())):
                found[name].append(str(path.relative_to(ROOT)))
    return found


def test_every_public_type_has_one_home() -> None:
    twice = {name: places for name, places in homes().items() if len(places) > 1}
    assert not twice, f"defined in more than one module: {twice}"


def test_the_scan_sees_classes_and_aliases() -> None:
    # Given a module with a class, an alias and a private helper
    tree = ast.parse("class Side: ...\nFate = A | B\nDetail = Literal['x']\n_Hidden = A | B\nLIMIT = 3\n")
    # Then the scan names the public types and nothing else
    assert defined_names(tree) == ["Side", "Fate", "Detail"]


def test_the_kernel_pair_domain_is_where_the_services_find_it() -> None:
    places = homes()
    for name in ("Side", "Direction", "Detail", "ConflictPolicy", "PairState", "PairAction", "HintPublisher"):
        assert places[name][0].startswith("calbridge/pairs/"), (name, places[name])
