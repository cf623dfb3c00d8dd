"""`python -m mailzone`."""

from mailzone.cli.app import main

main()
