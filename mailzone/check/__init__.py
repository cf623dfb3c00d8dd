"""`mailzone check`: what a receiving mail server will test, verified against live DNS.

One module per family of checks (`drift`, `spf`, `dkim`, `dmarc`, `mx`, `blocklist`), each a
function from a domain and the run's environment to findings; `runner` schedules them."""
