"""The `_smtp._tls` TLS-RPT record (RFC 8460 section 3)."""

from __future__ import annotations

from mailzone.records.model import DesiredRecord, DomainInput, relative_name
from mailzone.spec.zone import TlsRpt

VERSION = "v=TLSRPTv1"
# RFC 8460 section 3 (tlsrpt-uri): commas, exclamation points and semicolons MUST be encoded
_ESCAPES = {",": "%2C", "!": "%21", ";": "%3B"}


def record_uri(uri: str) -> str:
    """The URI as the record carries it: `,` `!` `;` percent-encoded."""
    return "".join(_ESCAPES.get(c, c) for c in uri)


def tls_rpt_value(tls_rpt: TlsRpt) -> str:
    """`v=TLSRPTv1; rua=<uri>[,<uri>...]`."""
    return f"{VERSION}; rua=" + ",".join(record_uri(uri) for uri in tls_rpt.rua)


def expand_tls_rpt(given: DomainInput) -> list[DesiredRecord]:
    """The `_smtp._tls` TXT, when the spec has `tls_rpt`."""
    spec = given.spec
    if spec.tls_rpt is None:
        return []
    name = relative_name(f"_smtp._tls.{spec.domain}", spec.zone_name)
    value = tls_rpt_value(spec.tls_rpt)
    return [DesiredRecord(name, "TXT", spec.ttl, (value,), origin=("tls_rpt", "rua"))]
