"""One person's meetings across Google Workspace, Microsoft 365 (Graph) and Exchange (EWS), and
their out-of-office state.

Pure pieces: `types`, `join` (join URLs), `oof` (reading each suite's out-of-office settings),
`merge` (an event and its mirror are one meeting), `calendars` (which calendars are a person's).
I/O: `lookup` (concurrent reads behind `source.MeetingSource`, cached like free/busy), the
providers' `meetings` modules (SDKs). HTTP: `calbridge.freebusy.app` serves `GET /v1/meetings`
beside `POST /v1/freebusy`. See docs/hybrid.md.
"""
