"""Pure: spec + state + resolved keys -> the records a domain wants. One module per record
family, registered once in `records.families`; no files, no network, no octoDNS shapes."""
