"""Hostile input thrown at mailzone (issue 11): generated files that must fail in one line."""
