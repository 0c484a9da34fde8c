"""Pairs and their activation (`pairs`), and the renewer that keeps every watched calendar
subscribed, handles lifecycle events and reconciles (`renewer`)."""
