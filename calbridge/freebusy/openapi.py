"""The OpenAPI 3.1 description of the free/busy API, built from the pydantic models."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from pydantic.json_schema import models_json_schema

from calbridge.freebusy.models import FreeBusyRequest, FreeBusyResponse, Limits, Problem

__all__ = ["FREEBUSY_PATH", "OPENAPI_PATH", "openapi_document"]

FREEBUSY_PATH = "/v1/freebusy"
OPENAPI_PATH = "/openapi.json"
_REF = "#/components/schemas/{model}"


def _problem(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/problem+json": {"schema": {"$ref": _REF.format(model="Problem")}}},
    }


def openapi_document(limits: Limits, version: str = "1") -> dict[str, Any]:
    _, definitions = models_json_schema(
        [(FreeBusyRequest, "validation"), (FreeBusyResponse, "serialization"), (Problem, "serialization")],
        ref_template=_REF,
    )
    days = limits.max_window / timedelta(days=1)
    return {
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
