"""The models people and mailzone write (zone spec, state, host config), the values they hold
(DKIM public keys, durations, names) and the YAML loader that keeps line numbers. No I/O in
validators; nothing here knows octoDNS, SPF evaluation or the record expansion."""
