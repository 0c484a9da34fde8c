"""Subscriptions: the renewer that keeps every watched calendar subscribed, and pair handling."""
