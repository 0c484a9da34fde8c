"""Google Calendar v3 emulator: OAuth (JWT bearer, domain-wide delegation), events with sync
tokens and recurrence, push channels, free/busy, fault injection and a control API."""

from sandbox.google.app import build_google_app
from sandbox.google.emulator import GoogleEmulator
from sandbox.google.state import GoogleUser, GoogleWorld

__all__ = ["GoogleEmulator", "GoogleUser", "GoogleWorld", "build_google_app"]
