"""Hostile input (issue 11): bad files and racing runs, refused in one line, nothing changed."""
