"""Turning results into text, JSON and Markdown; every command formats the same way."""
