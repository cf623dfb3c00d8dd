"""Asking DNS: the query client (with its wire fast path) and reading answers."""
