"""mailzone asks DNS over UDP and TCP only. Imported before anything imports `dns.query` (here,
octodns-bind or dkimpy's `dns.resolver`), it turns off dnspython's DNS-over-HTTPS, QUIC and trio
clients, which that import would otherwise load (httpx, h2 and their kin: ~0.2 s of every run)."""

import dns._features

for _feature in ("doh", "doq", "trio"):
    dns._features.force(_feature, False)
