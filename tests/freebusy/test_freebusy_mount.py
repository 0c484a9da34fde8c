"""The receiver serves free/busy when configured, and only then; the API also runs alone."""

from __future__ import annotations

import httpx
from freebusy_doubles import KEY, make_lookup, three_sources

from calbridge.settings import load_settings
from receiver import create_app

SIGNING = "k1:" + "s" * 40
BODY = {"start": "2026-11-23T08:00:00Z", "end": "2026-11-23T18:00:00Z", "addresses": ["ada@example.com"]}


class IdleBus:
    """The receiver's free/busy routes never touch the bus."""

    async def connect(self) -> None: ...
    async def start(self) -> None: ...
    async def close(self) -> None: ...
    async def ready(self) -> bool:
        return True


async def test_given_freebusy_keys_and_a_lookup_then_the_receiver_answers_freebusy() -> None:
    settings = load_settings(signing_keys=SIGNING, freebusy_keys=f"portal:{KEY}")
    app = create_app(settings, IdleBus(), freebusy=make_lookup(three_sources()))  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://r.test") as http:
        reply = await http.post("/v1/freebusy", json=BODY, headers={"Authorization": f"Bearer {KEY}"})
        assert reply.status_code == 200
        assert reply.headers["x-request-id"]  # the receiver's request context applies
        assert (await http.get("/openapi.json")).status_code == 200
        assert (await http.get("/healthz")).status_code == 200


async def test_given_no_freebusy_keys_then_the_receiver_does_not_serve_freebusy() -> None:
    settings = load_settings(signing_keys=SIGNING)
    app = create_app(settings, IdleBus(), freebusy=make_lookup(three_sources()))  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://r.test") as http:
        reply = await http.post("/v1/freebusy", json=BODY, headers={"Authorization": f"Bearer {KEY}"})
        assert reply.status_code == 404


def test_given_freebusy_keys_without_a_secret_key_then_the_receiver_command_names_the_missing_variable() -> (
    None
):
    from calbridge.secretbox import generate_key
    from calbridge_app.cli.receiver import startup_problems

    base = {
        "signing_keys": SIGNING,
        "amqp_url": "amqp://guest:guest@127.0.0.1/",
        "freebusy_keys": f"portal:{KEY}",
    }
    problems = startup_problems(load_settings(**base))
    assert len(problems) == 1 and "CALBRIDGE_SECRET_KEY" in problems[0]
    assert startup_problems(load_settings(**base, secret_key=generate_key())) == []
