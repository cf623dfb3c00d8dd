"""`python -m mailzone`."""

from mailzone.cli import main

main()
