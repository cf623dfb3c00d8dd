"""Spec models (zone spec, state, provider file) and YAML loading that keeps line numbers."""
