"""Free/busy sources: one per connection, behind the `FreeBusySource` Protocol."""

from calbridge.freebusy.sources.base import FreeBusySource

__all__ = ["FreeBusySource"]
