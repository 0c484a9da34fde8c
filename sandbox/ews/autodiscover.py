"""SOAP Autodiscover: `GetUserSettings` on /autodiscover/autodiscover.svc, which exchangelib 5.x uses."""

from __future__ import annotations

from aiohttp import web
from lxml import etree

from sandbox.ews.soap import SOAPNS, MalformedSoap
from sandbox.ews.state import EwsWorld

__all__ = ["AUTODISCOVER_PATH", "add_routes"]

AUTODISCOVER_PATH = "/autodiscover/autodiscover.svc"
ANS = "http://schemas.microsoft.com/exchange/2010/Autodiscover"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
SCHEMAS = ", ".join(
    (
        "Exchange2007",
        "Exchange2007_SP1",
        "Exchange2010",
        "Exchange2010_SP1",
        "Exchange2010_SP2",
        "Exchange2013",
        "Exchange2013_SP1",
        "Exchange2016",
    )
)


def _a(name: str) -> str:
    return f"{{{ANS}}}{name}"


def _settings(world: EwsWorld, address: str, ews_url: str) -> dict[str, str]:
    mailbox = world.mailboxes[address]
    return {
        "UserDisplayName": mailbox.display_name,
        "AutoDiscoverSMTPAddress": mailbox.address,
        "ExternalEwsUrl": ews_url,
        "InternalEwsUrl": ews_url,
        "EwsSupportedSchemas": SCHEMAS,
        "ExternalEwsVersion": "15.01.2507.006",
        "CasVersion": "15.01.2507.006",
    }


def _user_response(world: EwsWorld, address: str, requested: list[str], ews_url: str) -> etree._Element:
    resp = etree.Element(_a("UserResponse"))
    if address not in world.mailboxes:
        etree.SubElement(resp, _a("ErrorCode")).text = "InvalidUser"
        etree.SubElement(resp, _a("ErrorMessage")).text = "Invalid user."
        return resp
    etree.SubElement(resp, _a("ErrorCode")).text = "NoError"
    etree.SubElement(resp, _a("ErrorMessage")).text = "No error."
    known = _settings(world, address, ews_url)
    errors = etree.SubElement(resp, _a("UserSettingErrors"))
    settings = etree.SubElement(resp, _a("UserSettings"))
    for name in requested:
        if name in known:
            setting = etree.SubElement(settings, _a("UserSetting"), {f"{{{XSI}}}type": "StringSetting"})
            etree.SubElement(setting, _a("Name")).text = name
            etree.SubElement(setting, _a("Value")).text = known[name]
        else:
            error = etree.SubElement(errors, _a("UserSettingError"))
            etree.SubElement(error, _a("ErrorCode")).text = "SettingIsNotAvailable"
            etree.SubElement(error, _a("ErrorMessage")).text = "The setting is not available."
            etree.SubElement(error, _a("SettingName")).text = name
    return resp


def answer_user_settings(world: EwsWorld, data: bytes, ews_url: str) -> bytes:
    try:
        root = etree.fromstring(data, etree.XMLParser(resolve_entities=False, no_network=True))
    except etree.XMLSyntaxError as exc:
        raise MalformedSoap(str(exc)) from exc
    request = root.find(f"{{{SOAPNS}}}Body/{_a('GetUserSettingsRequestMessage')}/{_a('Request')}")
    if request is None:
        raise MalformedSoap("not a GetUserSettings request")
    users = [(e.text or "").strip().lower() for e in request.iter(_a("Mailbox"))]
    requested = [(e.text or "").strip() for e in request.iter(_a("Setting"))]
    env = etree.Element(f"{{{SOAPNS}}}Envelope", nsmap={"s": SOAPNS, "i": XSI})
    body = etree.SubElement(env, f"{{{SOAPNS}}}Body")
    message = etree.SubElement(body, _a("GetUserSettingsResponseMessage"), nsmap={None: ANS})
    response = etree.SubElement(message, _a("Response"))
    etree.SubElement(response, _a("ErrorCode")).text = "NoError"
    etree.SubElement(response, _a("ErrorMessage")).text = "No error."
    responses = etree.SubElement(response, _a("UserResponses"))
    responses.extend(_user_response(world, user, requested, ews_url) for user in users)
    return bytes(etree.tostring(env, xml_declaration=True, encoding="utf-8"))


def add_routes(app: web.Application, world: EwsWorld) -> None:
    from sandbox.ews.app import EWS_PATH, authenticate

    async def user_settings(request: web.Request) -> web.Response:
        if authenticate(world, request.headers.get("Authorization")) is None:
            return web.Response(status=401, headers={"WWW-Authenticate": 'Basic realm="sandbox", Bearer'})
        ews_url = f"{request.scheme}://{request.host}{EWS_PATH}"
        try:
            body = answer_user_settings(world, await request.read(), ews_url)
        except MalformedSoap:
            return web.Response(status=400, text="Bad request")
        return web.Response(body=body, content_type="text/xml", charset="utf-8")

    app.router.add_post(AUTODISCOVER_PATH, user_settings)
