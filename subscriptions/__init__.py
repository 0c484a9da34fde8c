"""Pairs and their activation; later the renewer and reconciliation (subscriptions)."""
