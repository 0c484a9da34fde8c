"""SOAP envelopes for the EWS emulator: parse requests, build responses, messages and faults."""

from __future__ import annotations

from collections.abc import Iterable

from lxml import etree

__all__ = [
    "MNS",
    "SERVER_VERSION",
    "SOAPNS",
    "TNS",
    "SoapRequest",
    "envelope",
    "error_message",
    "fault",
    "item_error",
    "m",
    "parse_request",
    "response",
    "success_message",
    "t",
    "text_of",
]

SOAPNS = "http://schemas.xmlsoap.org/soap/envelope/"
MNS = "http://schemas.microsoft.com/exchange/services/2006/messages"
TNS = "http://schemas.microsoft.com/exchange/services/2006/types"
ENS = "http://schemas.microsoft.com/exchange/services/2006/errors"
NSMAP = {"s": SOAPNS, "m": MNS, "t": TNS}
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)


def t(name: str) -> str:
    return f"{{{TNS}}}{name}"


def m(name: str) -> str:
    return f"{{{MNS}}}{name}"


class MalformedSoap(ValueError):
    """The request is not a SOAP envelope with a body operation."""


class SoapRequest:
    """A parsed request: its operation element, and the impersonated mailbox if any."""

    def __init__(self, operation: etree._Element, impersonated: str | None) -> None:
        self.operation = operation
        self.name = etree.QName(operation).localname
        self.impersonated = impersonated


def parse_request(data: bytes) -> SoapRequest:
    try:
        root = etree.fromstring(data, _PARSER)
    except etree.XMLSyntaxError as exc:
        raise MalformedSoap(str(exc)) from exc
    body = root.find(f"{{{SOAPNS}}}Body")
    if body is None or len(body) == 0:
        raise MalformedSoap("no SOAP body")
    impersonated = None
    header = root.find(f"{{{SOAPNS}}}Header")
    if header is not None:
        sid = header.find(f"{t('ExchangeImpersonation')}/{t('ConnectingSID')}")
        if sid is not None:
            for child in sid:
                if child.text:
                    impersonated = child.text.strip().lower()
                    break
    return SoapRequest(body[0], impersonated)


# What Exchange Online puts in the `ServerVersionInfo` header of every EWS answer (the build
# moves on; `V2018_01_08` is the schema version string it reports, which is not valid in a request).
SERVER_VERSION = {
    "MajorVersion": "15",
    "MinorVersion": "20",
    "MajorBuildNumber": "8198",
    "MinorBuildNumber": "20",
    "Version": "V2018_01_08",
}


def envelope(*body: etree._Element) -> bytes:
    """A response envelope: the `ServerVersionInfo` header, then the body."""
    env = etree.Element(f"{{{SOAPNS}}}Envelope", nsmap=NSMAP)
    header = etree.SubElement(env, f"{{{SOAPNS}}}Header")
    etree.SubElement(header, t("ServerVersionInfo"), SERVER_VERSION)
    body_elem = etree.SubElement(env, f"{{{SOAPNS}}}Body")
    body_elem.extend(body)
    return bytes(etree.tostring(env, xml_declaration=True, encoding="utf-8"))


def success_message(
    operation: str, children: Iterable[etree._Element] = (), tag: str | None = None
) -> etree._Element:
    msg = etree.Element(m(tag or f"{operation}ResponseMessage"), ResponseClass="Success")
    etree.SubElement(msg, m("ResponseCode")).text = "NoError"
    msg.extend(children)
    return msg


def error_message(operation: str, code: str, text: str, tag: str | None = None) -> etree._Element:
    msg = etree.Element(m(tag or f"{operation}ResponseMessage"), ResponseClass="Error")
    etree.SubElement(msg, m("MessageText")).text = text
    etree.SubElement(msg, m("ResponseCode")).text = code
    etree.SubElement(msg, m("DescriptiveLinkKey")).text = "0"
    return msg


def item_error(operation: str, code: str, text: str) -> etree._Element:
    """An error for an ItemInfoResponseMessageType (GetItem, CreateItem, UpdateItem): the schema
    requires `m:Items` there even when it is empty, and Exchange sends it."""
    msg = error_message(operation, code, text)
    etree.SubElement(msg, m("Items"))
    return msg


def response(operation: str, messages: Iterable[etree._Element]) -> etree._Element:
    resp = etree.Element(m(f"{operation}Response"), nsmap={"m": MNS, "t": TNS})
    container = etree.SubElement(resp, m("ResponseMessages"))
    container.extend(messages)
    return resp


def fault(code: str, message: str, back_off_ms: int | None = None) -> bytes:
    """A SOAP fault as Exchange sends it for request-level errors (throttling, denied impersonation)."""
    env = etree.Element(f"{{{SOAPNS}}}Envelope", nsmap={"s": SOAPNS})
    body = etree.SubElement(env, f"{{{SOAPNS}}}Body")
    flt = etree.SubElement(body, f"{{{SOAPNS}}}Fault")
    code_elem = etree.SubElement(flt, "faultcode", nsmap={"a": TNS})
    code_elem.text = f"a:{code}"
    etree.SubElement(flt, "faultstring").text = message
    detail = etree.SubElement(flt, "detail")
    etree.SubElement(detail, f"{{{ENS}}}ResponseCode", nsmap={"e": ENS}).text = code
    etree.SubElement(detail, f"{{{ENS}}}Message", nsmap={"e": ENS}).text = message
    if back_off_ms is not None:
        xml = etree.SubElement(detail, t("MessageXml"), nsmap={"t": TNS})
        etree.SubElement(xml, t("Value"), Name="BackOffMilliseconds").text = str(back_off_ms)
    return bytes(etree.tostring(env, xml_declaration=True, encoding="utf-8"))


def text_of(elem: etree._Element | None, path: str) -> str | None:
    if elem is None:
        return None
    found = elem.find(path)
    return None if found is None or found.text is None else found.text.strip()
