"""calbridge: keeps Google Workspace and Microsoft 365 / Exchange calendars in step."""

__version__ = "0.1.0"
