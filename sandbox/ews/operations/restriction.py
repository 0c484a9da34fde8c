"""FindItem restrictions (And/Or/Not, comparisons, Exists, Contains) over stored item fields."""

from __future__ import annotations

from lxml import etree

from sandbox.ews.items import extended_key, format_dt, parse_dt
from sandbox.ews.soap import t
from sandbox.ews.state import StoredItem

__all__ = ["matches"]

_COMPARE = {
    "IsEqualTo": lambda a, b: a == b,
    "IsNotEqualTo": lambda a, b: a != b,
    "IsGreaterThan": lambda a, b: a > b,
    "IsGreaterThanOrEqualTo": lambda a, b: a >= b,
    "IsLessThan": lambda a, b: a < b,
    "IsLessThanOrEqualTo": lambda a, b: a <= b,
}


def _value(item: StoredItem, uri: etree._Element) -> str | None:
    if etree.QName(uri).localname == "ExtendedFieldURI":
        prop = item.extended.get(extended_key(uri))
        return None if prop is None else prop.findtext(t("Value"))
    name = (uri.get("FieldURI") or "").split(":")[-1]
    if name == "ItemId":
        return item.id
    return item.text(name)


def _normalize(value: str | None) -> str | None:
    # Exchange compares datetimes as instants; stored ones are UTC with a Z, so align constants.
    if value and len(value) >= 19 and value[4] == "-" and value[10] == "T":
        try:
            return format_dt(parse_dt(value))
        except ValueError:
            return value
    return value


def matches(node: etree._Element, item: StoredItem) -> bool:
    kind = etree.QName(node).localname
    children = [c for c in node if isinstance(c.tag, str)]
    if kind == "Restriction":
        return all(matches(c, item) for c in children)
    if kind == "And":
        return all(matches(c, item) for c in children)
    if kind == "Or":
        return any(matches(c, item) for c in children)
    if kind == "Not":
        return not matches(children[0], item)
    uri = children[0]
    value = _normalize(_value(item, uri))
    if kind == "Exists":
        return value is not None
    constant = node.find(f"{t('FieldURIOrConstant')}/{t('Constant')}")
    if constant is None:
        constant = node.find(t("Constant"))
    expected = _normalize(constant.get("Value") if constant is not None else None)
    if kind == "Contains":
        mode = node.get("ContainmentMode", "Substring")
        comparison = node.get("ContainmentComparison", "Exact")
        a, b = value or "", expected or ""
        if "Ignore" in comparison:
            a, b = a.lower(), b.lower()
        if mode == "FullString":
            return a == b
        if mode == "Prefixed":
            return a.startswith(b)
        return b in a
    if kind in _COMPARE:
        if value is None or expected is None:
            return kind == "IsNotEqualTo" and value != expected
        return bool(_COMPARE[kind](value, expected))
    return True
