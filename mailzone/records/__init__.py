"""Pure: spec + state + resolved keys -> the records a domain wants; one module per record family."""
