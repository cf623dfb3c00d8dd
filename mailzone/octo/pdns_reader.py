"""octodns-powerdns's PowerDnsProvider with a reader for mailzone's no-op pre-filter.

`live_zone` GETs the zone's JSON as the provider's own session would (`_get`: its URL, API key,
timeout and errors) and hands `fastpath.live_zone` the record sets as lean values, skipping
what octoDNS's `populate` skips (types it does not support, the apex NS of a plan that has
none). What the canonical form cannot judge is opaque, so the full plan decides: LUA records
(octoDNS may read them as dynamic records) and any record marked disabled. Other types are
foreign when octoDNS's own `_data_for_<type>` reads them without a complaint. When the zone
needs octoDNS's plan after all, the next `populate` takes the same JSON (the API is asked once);
everything else is the stock provider.

The GET skips `requests` (most of a no-op plan's CPU went into it: the proxy environment read
per request, its connection pool) when nothing `requests` would add applies: plain http, one
number as timeout, no proxy for the URL in the environment, no netrc entry, no auth, cookies,
parameters or hooks on the session (`_lean_api`, decided once per provider). It sends the
session's own headers over `http.client`; PowerDNS closes the connection after each answer
(`Connection: close`), so there is none to reuse. Anything but an HTTP status with plain JSON
(a refused connection, a timeout, a redirect, a compressed body) is asked again through the
session, so errors read exactly as before."""

from __future__ import annotations

import http.client
import json
from typing import Any
from urllib.parse import urlsplit

from octodns.record import Record
from octodns.zone import Zone
from octodns_powerdns import PowerDnsProvider, _encode_zone_name, _escape_unescaped_semicolons
from requests import HTTPError
from requests.utils import get_environ_proxies, get_netrc_auth, requote_uri, select_proxy

from mailzone.octo import fastpath

_FAILED = object()  # the API answered with an HTTP error status
_ASK_SESSION = object()  # the lean GET cannot answer: the session asks


class _Kept:
    """A zone GET `live_zone` made, parsed once, answering `populate`'s `resp.json()`."""

    def __init__(self, data: Any) -> None:
        self.data = data

    def json(self) -> Any:
        return self.data


def txt_strings(content: str) -> tuple[bytes, ...]:
    """A TXT `content` as one string whose canonical value is the text octoDNS reads from it
    (`_data_for_quoted`, then the TXT value's own processing: quotes off, `;` escaped, chunks
    joined); Opaque when that text is not in the canonical form."""
    text = _escape_unescaped_semicolons(content[1:-1])
    if text and text[0] == '"':
        text = text[1:-1]
    text = text.replace('" "', "")
    raw = text.replace("\\;", ";")
    if fastpath.txt_value([raw.encode("ascii")]) != text:
        raise fastpath.Opaque("TXT")
    return (raw.encode("ascii"),)


def lean_value(rtype: str, content: str) -> Any:
    """One record's `content` as the lean AXFR reader gives the value (TLSA as a tuple)."""
    if rtype == "MX":
        preference, exchange = content.split(" ", 1)
        return int(preference), exchange
    if rtype == "TXT":
        return txt_strings(content)
    if rtype == "TLSA":
        usage, selector, mtype, data = content.split(" ", 3)
        return int(usage), int(selector), int(mtype), data
    return content


class FastPowerDnsProvider(PowerDnsProvider):
    """octodns_powerdns.PowerDnsProvider with `live_zone`; configured the same way."""

    def live_zone(self, zone_name: str) -> fastpath.LiveZone:
        """The zone's rrsets in the pre-filter's canonical form; an HTTP error (no such zone,
        refused) is left to `populate`, which asks again and says what it was."""
        path = f"zones/{_encode_zone_name(zone_name)}"
        data = self._lean_get(path)
        if data is _FAILED:
            return fastpath.LiveZone(exists=False)
        if data is _ASK_SESSION:
            try:
                data = super()._get(path).json()
            except HTTPError:
                return fastpath.LiveZone(exists=False)
        self._kept()[path] = _Kept(data)
        try:
            sets = [self._lean(rrset, zone_name) for rrset in data["rrsets"]]
        except (fastpath.Opaque, KeyError, TypeError, ValueError):
            return fastpath.LiveZone(exists=True, opaque=True)
        return fastpath.live_zone(
            zone_name, (s for s in sets if s is not None), valid=self._valid_set
        )

    def _lean(
        self, rrset: dict[str, Any], zone_name: str
    ) -> tuple[str, str, int, list[Any]] | None:
        """(name, type, TTL, values) of one rrset populate reads; None for one it skips."""
        rtype, name = rrset["type"], rrset["name"]
        if rtype not in self.SUPPORTS and f"PowerDnsProvider/{rtype}" not in self.SUPPORTS:
            return None
        if rtype == "NS" and name.lower() == zone_name.lower():
            return None
        records = rrset["records"]
        if rtype == "LUA" or any(r.get("disabled") is not False for r in records):
            raise fastpath.Opaque(rtype)
        if rtype not in fastpath.CANONICAL_TYPES:
            return name, rtype, rrset["ttl"], [rrset]  # judged whole by _valid_set
        return name, rtype, rrset["ttl"], [lean_value(rtype, r["content"]) for r in records]

    def _valid_set(
        self, zone_name: str, fqdn: str, rtype: str, ttl: int, values: list[Any]
    ) -> bool:
        """Whether octoDNS reads this rrset and carries it over without a complaint."""
        try:
            zone = Zone(zone_name, [])
            data = getattr(self, f"_data_for_{rtype}")(values[0])
            record = Record.new(zone, zone.hostname_from_fqdn(fqdn), data, source=self)
            kept = record.copy(zone=zone, lenient=False)
            return record.changes(kept, None) is None
        except Exception:
            return False

    def _lean_get(self, path: str) -> Any:
        """The JSON of `GET path` over `http.client`; `_FAILED` for an HTTP error status (what
        `raise_for_status` raises for), `_ASK_SESSION` when the session must ask (see above)."""
        api = self._lean_api()
        if api is None:
            return _ASK_SESSION
        base, headers = api
        self.log.debug("_request: method=%s, path=%s", "GET", path)
        conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        try:
            conn.request("GET", requote_uri(f"{base}{path}".rstrip("/")), headers=headers)
            resp = conn.getresponse()
            body = resp.read()
        except (OSError, http.client.HTTPException):
            return _ASK_SESSION
        finally:
            conn.close()
        self.log.debug("_request:   status=%d", resp.status)
        if 400 <= resp.status < 600:
            return _FAILED
        if resp.status != 200 or resp.getheader("Content-Encoding") not in (None, "identity"):
            return _ASK_SESSION
        try:
            return json.loads(body)
        except ValueError:
            return _ASK_SESSION

    def _lean_api(self) -> tuple[str, dict[str, str]] | None:
        """The API's base path and the session's headers when a GET may skip `requests`; None
        when it may not (decided on first use: the provider's settings and the environment)."""
        if "_api" not in self.__dict__:
            self.__dict__["_api"] = self._lean_settings()
        lean: tuple[str, dict[str, str]] | None = self.__dict__["_api"]
        return lean

    def _lean_settings(self) -> tuple[str, dict[str, str]] | None:
        url = f"{self.scheme}://{self.host}:{self.port:d}/api/v1/servers/{self.server_id}/"
        sess, timeout = self._sess, self.timeout
        if self.scheme != "http" or ":" in self.host or "@" in self.host:
            return None
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
            return None
        if sess.auth or sess.cookies or sess.params or sess.proxies or any(sess.hooks.values()):
            return None
        if sess.trust_env and (
            select_proxy(url, get_environ_proxies(url)) or get_netrc_auth(url) is not None
        ):
            return None
        return urlsplit(url).path, dict(sess.headers)

    def _kept(self) -> dict[str, _Kept]:
        """Zone reads `live_zone` made, for the next `populate` of each zone (no `__init__` of
        its own: the options are checked against octodns-powerdns's signature)."""
        kept: dict[str, _Kept] = self.__dict__.setdefault("_read", {})
        return kept

    def forget_live(self, zone_name: str) -> None:
        """Drop the read `live_zone` kept (the zone needs no plan)."""
        self._kept().pop(f"zones/{_encode_zone_name(zone_name)}", None)

    def _get(self, path: str, data: Any = None) -> Any:
        kept = self._kept().pop(path, None) if data is None else None
        return kept if kept is not None else super()._get(path, data=data)
