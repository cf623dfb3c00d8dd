"""The `mailzone` command: typer app, one module per command group, render/ for output."""
