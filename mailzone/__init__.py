"""mailzone: declarative mail DNS, reviewed in git, applied through octoDNS."""

__version__ = "0.1.0"
