"""The OpenAPI 3.1 description of the free/busy API (and the meeting list beside it), built from
the pydantic models."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from pydantic.json_schema import models_json_schema

from calbridge.freebusy.models import FreeBusyRequest, FreeBusyResponse, Limits, Problem
from calbridge.meetings.models import MeetingsQuery, MeetingsResponse

__all__ = ["FREEBUSY_PATH", "MEETINGS_PATH", "OPENAPI_PATH", "openapi_document"]

FREEBUSY_PATH = "/v1/freebusy"
MEETINGS_PATH = "/v1/meetings"
OPENAPI_PATH = "/openapi.json"
_REF = "#/components/schemas/{model}"


def _problem(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/problem+json": {"schema": {"$ref": _REF.format(model="Problem")}}},
    }


def _query_parameters(schema: dict[str, Any]) -> list[dict[str, Any]]:
    """The meeting list's query string, from `MeetingsQuery`'s schema."""
    required = set(schema.get("required", []))
    return [
        {"name": name, "in": "query", "required": name in required, "schema": field}
        for name, field in schema["properties"].items()
    ]


def _meetings_path(limits: Limits, query: dict[str, Any]) -> dict[str, Any]:
    days = limits.max_window / timedelta(days=1)
    return {
        "get": {
            "operationId": "listMeetings",
            "summary": "One person's meetings across Google, Microsoft 365 and Exchange",
            "description": "An event and its mirrors are one meeting; each with its join URL and where "
            f"it was read; the person's out-of-office state. A window of at most {days:g} days.",
            "security": [{"bearerKey": []}],
            "parameters": _query_parameters(query),
            "responses": {
                "200": {
                    "description": "The meetings, sorted by start, or the person's own error.",
                    "content": {
                        "application/json": {"schema": {"$ref": _REF.format(model="MeetingsResponse")}}
                    },
                },
                "401": _problem("No bearer key was sent."),
                "403": _problem("The bearer key is not accepted."),
                "422": _problem("The query is invalid; `errors` says where and why."),
            },
        }
    }


def openapi_document(limits: Limits, version: str = "1", *, meetings: bool = False) -> dict[str, Any]:
    models: list[Any] = [
        (FreeBusyRequest, "validation"),
        (FreeBusyResponse, "serialization"),
        (Problem, "serialization"),
    ]
    if meetings:
        models.append((MeetingsResponse, "serialization"))
    _, definitions = models_json_schema(models, ref_template=_REF)
    days = limits.max_window / timedelta(days=1)
    paths: dict[str, Any] = {}
    if meetings:
        paths[MEETINGS_PATH] = _meetings_path(limits, MeetingsQuery.model_json_schema(by_alias=True))
    document: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {
            "title": "calbridge free/busy",
            "version": version,
            "description": "Busy time of people and rooms on Google Workspace, Microsoft 365 and "
            "Exchange, in one request. One address failing never fails the others.",
        },
        "paths": {
            FREEBUSY_PATH: {
                "post": {
                    "operationId": "queryFreeBusy",
                    "summary": "Busy blocks of each address within a window",
                    "description": f"At most {limits.max_addresses} addresses and a window of at most "
                    f"{days:g} days per request.",
                    "security": [{"bearerKey": []}],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {"schema": {"$ref": _REF.format(model="FreeBusyRequest")}}
                        },
                    },
                    "responses": {
                        "200": {
                            "description": "An entry per address: its busy blocks, or its own error.",
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": _REF.format(model="FreeBusyResponse")}
                                }
                            },
                        },
                        "400": _problem("The body is not JSON."),
                        "401": _problem("No bearer key was sent."),
                        "403": _problem("The bearer key is not accepted."),
                        "413": _problem("The body or the number of addresses is over the limit."),
                        "415": _problem("The body is not application/json."),
                        "422": _problem("The request is invalid; `errors` says where and why."),
                    },
                }
            }
        },
        "components": {
            "schemas": definitions["$defs"],
            "securitySchemes": {"bearerKey": {"type": "http", "scheme": "bearer"}},
        },
    }
    document["paths"].update(paths)
    return document
