"""octoDNS glue: the source, the ownership processor, the local zone-file provider, plan/apply."""

from mailzone.dns import plain as _plain  # noqa: F401  (before octodns-bind's dns.query)
