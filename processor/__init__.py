"""The processor: pull the truth from the source calendar, plan each change, apply it to the other side.

`plan` and `breaker` are pure decisions; `engine` orchestrates I/O through the provider Protocol
and a link repository (`links`).
"""
