"""EWS emulator: `POST /EWS/Exchange.asmx` as exchangelib 5.x speaks it (fixed endpoint and version),
SOAP Autodiscover, an OAuth2 token endpoint and `/_control/ews/` routes for tests and the demo."""

from sandbox.ews.app import build_ews_app
from sandbox.ews.control import EwsControlClient
from sandbox.ews.state import EwsWorld

__all__ = ["EwsControlClient", "EwsWorld", "build_ews_app"]
