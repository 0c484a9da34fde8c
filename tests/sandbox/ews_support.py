"""Raw SOAP against the EWS emulator, for facts exchangelib forgives (element order, headers)."""

from __future__ import annotations

import requests
from lxml import etree

from sandbox.ews.soap import MNS, SOAPNS, TNS
from sandbox.ews.testing import RunningEws

NS = {"s": SOAPNS, "m": MNS, "t": TNS}


def ews_soap(ews: RunningEws, body: str, mailbox: str = "alice@example.com") -> etree._Element:
    """POST `body` as svc@example.com (Basic) impersonating `mailbox`; the parsed envelope."""
    envelope = f"""<?xml version="1.0" encoding="utf-8"?>
<s:Envelope xmlns:s="{SOAPNS}" xmlns:m="{MNS}" xmlns:t="{TNS}">
  <s:Header><t:RequestServerVersion Version="Exchange2016"/>
    <t:ExchangeImpersonation><t:ConnectingSID><t:PrimarySmtpAddress>{mailbox}</t:PrimarySmtpAddress>
    </t:ConnectingSID></t:ExchangeImpersonation></s:Header>
  <s:Body>{body}</s:Body>
</s:Envelope>"""
    reply = requests.post(
        ews.ews_url,
        data=envelope.encode(),
        auth=("svc@example.com", "s3cret"),
        headers={"Content-Type": "text/xml; charset=utf-8"},
        timeout=10,
    )
    return etree.fromstring(reply.content)


def children(elem: etree._Element) -> list[str]:
    return [etree.QName(c).localname for c in elem]
