"""Blocking facade over autumn_async."""
