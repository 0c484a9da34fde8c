"""Local emulators of Google Calendar v3, Microsoft Graph v1.0 and EWS, for tests and the demo.

The real SDKs talk to them unchanged but for endpoint configuration. Each provider lives in its
own subpackage; `clock`, `faults` and `counters` are shared by all of them.
"""
