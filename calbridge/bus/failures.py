"""What went wrong reaching RabbitMQ, said in one line that names the fix.

aiormq answers a wrong password with ProbableAuthenticationError, an unknown virtual host with an
InvalidFrameError (the broker closes the connection where OpenOk was expected), a missing
consistent-hash exchange plugin with ConnectionCommandInvalid, and an unreachable host with
AMQPConnectionError. `explain_broker_error` turns each into calbridge's own: `ConfigurationError`
where the URL or the broker's setup is wrong, `BusUnavailable` where it could not be reached.
The URL is shown without its password.
"""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

from aiormq import exceptions as amqp

from calbridge.errors import BusUnavailable, CalbridgeError, ConfigurationError

__all__ = ["explain_broker_error", "masked_amqp_url"]

PLUGIN = "rabbitmq_consistent_hash_exchange"


def explain_broker_error(exc: BaseException, url: str) -> CalbridgeError:
    where = masked_amqp_url(url)
    text = " ".join(str(exc).split())
    if isinstance(exc, amqp.ProbableAuthenticationError) or "ACCESS_REFUSED" in text:
        return ConfigurationError(
            f"RabbitMQ at {where} refused the login: check the user and password in CALBRIDGE_AMQP_URL"
        )
    if isinstance(exc, amqp.InvalidFrameError) and "Connection.Close" in text:
        vhost = _vhost(url)
        return ConfigurationError(
            f"RabbitMQ at {where} refused the virtual host {vhost!r} (it does not exist, or the user "
            f"may not use it): `rabbitmqctl add_vhost {vhost}` and `rabbitmqctl set_permissions -p "
            f"{vhost} USER '.*' '.*' '.*'`, or fix CALBRIDGE_AMQP_URL"
        )
    if "unknown exchange type" in text and "consistent-hash" in text:
        return ConfigurationError(
            f"RabbitMQ at {where} lacks the consistent-hash exchange: enable it with "
            f"`rabbitmq-plugins enable {PLUGIN}` (on every node of the cluster)"
        )
    if isinstance(exc, amqp.ChannelNotFoundEntity):
        return ConfigurationError(
            f"RabbitMQ at {where} has no calbridge queues in virtual host {_vhost(url)!r} yet: "
            "start a processor once (it declares them), or check the virtual host in CALBRIDGE_AMQP_URL"
        )
    if isinstance(exc, amqp.AMQPConnectionError | OSError | TimeoutError):
        reason = text or type(exc).__name__
        return BusUnavailable(f"cannot reach RabbitMQ at {where}: {reason}")
    return BusUnavailable(f"RabbitMQ at {where} failed: {type(exc).__name__}: {text}".rstrip(": "))


def masked_amqp_url(url: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or "?"
    port = f":{parts.port}" if parts.port else ""
    user = f"{unquote(parts.username)}@" if parts.username else ""
    return f"{parts.scheme}://{user}{host}{port}/{_vhost(url) if parts.path not in ('', '/') else ''}"


def _vhost(url: str) -> str:
    path = urlsplit(url).path
    return unquote(path[1:]) if len(path) > 1 else "/"
