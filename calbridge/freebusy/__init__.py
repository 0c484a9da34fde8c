"""Free/busy across Google Workspace, Microsoft 365 (Graph) and Exchange (EWS).

Pure pieces: `types`, `intervals`, `batching`, `cache`, `resolve`, `models`. I/O: `orchestrate`
(concurrent provider calls behind `sources.FreeBusySource`), `app` (HTTP), `sources.*` (SDKs).
See docs/freebusy.md.
"""
