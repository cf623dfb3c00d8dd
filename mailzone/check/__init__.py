"""`mailzone check`: what a receiving mail server will test, verified against live DNS.

One module per family of checks, each a function from a domain and the run's environment to
findings, registered once in `check.families`; `runner` schedules them."""
