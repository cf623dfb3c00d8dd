"""octodns-powerdns's PowerDnsProvider with a reader for mailzone's no-op pre-filter.

`live_zone` GETs the zone's JSON as the provider's own session would (`_get`: its URL, API key,
timeout and errors) and hands `fastpath.live_zone` the record sets as lean values, skipping
what octoDNS's `populate` skips (types it does not support, the apex NS of a plan that has
none). What the canonical form cannot judge is opaque, so the full plan decides: LUA records
(octoDNS may read them as dynamic records) and any record marked disabled. Other types are
foreign when octoDNS's own `_data_for_<type>` reads them without a complaint. When the zone
needs octoDNS's plan after all, the next `populate` takes the same JSON (the API is asked once);
everything else is the stock provider.

Every request to the API skips `requests` when nothing it would add applies (`pdns_http`)."""

from __future__ import annotations

from typing import Any

from octodns.record import Record
from octodns.zone import Zone
from octodns_powerdns import PowerDnsProvider, _encode_zone_name, _escape_unescaped_semicolons
from requests import HTTPError, Response

from mailzone.octo import fastpath
from mailzone.octo.pdns_http import LeanApi


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
        try:
            data = self._get(path).json()
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

    def _lean_api(self) -> LeanApi | None:
        """The API over `http.client`, when `LeanApi.of` allows (decided once; no `__init__`
        of its own: see _kept)."""
        if "_api" not in self.__dict__:
            self.__dict__["_api"] = LeanApi.of(self)
        api: LeanApi | None = self.__dict__["_api"]
        return api if api is not None and api.usable else None

    def send_ahead(self, zone_name: str) -> bool:
        """Send the zone's GET now, for the next `live_zone` or `populate` of it to read
        (`LeanApi.send_ahead`); False when it could not be sent. Nothing is sent for a zone
        whose GET is out already, or whose answer `poll_ahead` took in."""
        api = self._lean_api()
        if api is None:
            return False
        path = f"zones/{_encode_zone_name(zone_name)}"
        return path in self._kept() or api.is_ahead(path) or api.send_ahead(path)

    def poll_ahead(self) -> int:
        """Take in the answers to GETs sent ahead that have arrived (for the zones' next
        `live_zone`, as `_kept`), without waiting: how many are still out. A read that fails is
        left for the zone's own read to make again and report."""
        api = self._lean_api()
        if api is None:
            return 0
        for path in api.ready_ahead():
            try:
                self._kept()[path] = _Kept(self._request("GET", path).json())
            except HTTPError as err:  # no such zone (yet): `_get` raises it again
                self._kept()[path] = err.response
            except Exception:  # the zone's own read asks again, and reports it
                pass
        return api.in_flight()

    def drop_ahead(self) -> None:
        """Close what was sent ahead and never read (the zone's plan stopped before)."""
        api = self.__dict__.get("_api")
        if api is not None:
            api.drop_ahead()

    def _request(self, method: str, path: str, data: Any = None) -> Any:
        """octodns-powerdns's request, over `http.client` when `LeanApi.of` allows."""
        api = self._lean_api()
        resp = api.request(method, path, data) if api is not None else None
        if resp is None:
            return super()._request(method, path, data=data)
        self.log.debug("_request: method=%s, path=%s", method, path)
        self.log.debug("_request:   status=%d", resp.status_code)
        resp.raise_for_status()
        return resp

    def _kept(self) -> dict[str, _Kept | Response]:
        """Zone reads `live_zone` made, for the next `populate` of each zone (no `__init__` of
        its own: the options are checked against octodns-powerdns's signature)."""
        kept: dict[str, _Kept | Response] = self.__dict__.setdefault("_read", {})
        return kept

    def forget_live(self, zone_name: str) -> None:
        """Drop the read `live_zone` kept (the zone needs no plan)."""
        self._kept().pop(f"zones/{_encode_zone_name(zone_name)}", None)

    def _get(self, path: str, data: Any = None) -> Any:
        kept = self._kept().pop(path, None) if data is None else None
        if kept is None:
            return super()._get(path, data=data)
        if isinstance(kept, Response):  # an error answer `poll_ahead` took in
            kept.raise_for_status()
        return kept
