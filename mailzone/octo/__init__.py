"""octoDNS glue: the source, the ownership processor, the local zone-file provider, plan/apply."""
