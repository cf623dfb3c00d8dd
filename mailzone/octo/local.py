"""The built-in `local` provider: one RFC 1035 zone file per zone, in a directory.

    providers:
      local:
        class: mailzone.octo.local.LocalZoneFileProvider
        directory: build/zones          # <directory>/<zone><file_extension>
        file_extension: .zone
        default_ttl: 3600               # SOA and NS of a file this provider creates
        hostmaster_email: hostmaster    # or hostmaster@example.net
        primary_nameserver: null        # SOA MNAME and apex NS; null means ns1.<zone>

Unlike octodns-bind's ZoneFileProvider, it is a real target:

- `populate(zone, target=True)` reads the file, so a second plan is empty and records added to
  the file by hand show up in the plan instead of being wiped silently;
- `_apply` re-reads the file and changes only the RRsets named in the plan: SOA (but its serial),
  apex NS, types octoDNS cannot express and every other RRset keep their data. dnspython
  re-renders the whole file, though: names sorted and relative, one RR per line, comments at the
  end of a record line kept, comment lines and `$TTL`/`$ORIGIN` layout not;
- the file is replaced atomically (temp file in the same directory, fsync, `os.replace`);
- a new file gets an SOA and an apex NS (`primary_nameserver`, default `ns1.<zone>`: an in-zone
  name, so a server loading the file also wants its glue A/AAAA record).

SOA serials are `YYYYMMDDnn` (UTC): each write uses `max(old + 1, today * 100)`, see
:func:`next_serial`. Names outside the zone's origin are dropped by dnspython when the file is
read, so they do not survive a write (name servers ignore them too).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import dns.exception
import dns.name
import dns.rdataset
import dns.rdatatype
import dns.zone
from octodns.provider.base import BaseProvider
from octodns.record import Record
from octodns.record.change import Delete
from octodns.record.exception import RecordException
from octodns.record.rr import Rrset

from mailzone.errors import ProviderError
from mailzone.spec.yamlfile import display_path
from mailzone.util.files import write_atomic

SERIAL_MAX = 2**32 - 1
_APEX_ORDER = {dns.rdatatype.SOA: 0, dns.rdatatype.NS: 1}


class LocalZoneFileError(ProviderError):
    """A zone file could not be read or written; names the file (and line, when dnspython knows)."""


def next_serial(old: int, today: date) -> int:
    """The SOA serial after `old` on `today`: `YYYYMMDDnn`, and always greater than `old`.

    `max(old + 1, YYYYMMDD00)`: the first write of a day starts at `nn = 00`, later writes count
    up; after 99 writes in a day the count runs on into the next day's numbers, which stays
    monotonic. Serials from other schemes (octodns-bind's epoch seconds, small counters) are
    below today's base and jump to it. Past 2**32 - 1 the serial wraps to `(old + 1) mod 2**32`,
    which RFC 1982 serial arithmetic still reads as an increase.
    """
    candidate = max(old + 1, int(today.strftime("%Y%m%d")) * 100)
    if candidate > SERIAL_MAX:
        return (old + 1) % (SERIAL_MAX + 1)
    return candidate


class LocalZoneFileProvider(BaseProvider):
    """octoDNS source and target keeping one zone file per zone in `directory`.

    Exposes (and manages) every RRset of a supported type except the SOA and the apex NS, which
    the provider keeps itself (`SUPPORTS_ROOT_NS = False`: a desired apex NS is refused as by any
    octoDNS provider without root-NS support). Extra keyword arguments (`update_pcent_threshold`,
    `delete_pcent_threshold`, `strict_supports`, ...) go to octoDNS's BaseProvider.
    """

    SUPPORTS_GEO = False
    SUPPORTS_DYNAMIC = False
    SUPPORTS_ROOT_NS = False
    SUPPORTS_MULTIVALUE_PTR = True
    SUPPORTS = frozenset(
        {
            "A",
            "AAAA",
            "CAA",
            "CNAME",
            "DS",
            "HTTPS",
            "LOC",
            "MX",
            "NAPTR",
            "NS",
            "PTR",
            "SRV",
            "SSHFP",
            "SVCB",
            "TLSA",
            "TXT",
        }
    )

    def __init__(
        self,
        id: str,
        directory: str = "build/zones",
        file_extension: str = ".zone",
        default_ttl: int = 3600,
        hostmaster_email: str = "hostmaster",
        primary_nameserver: str | None = None,
        refresh: int = 3600,
        retry: int = 600,
        expire: int = 604800,
        nxdomain: int = 300,
        *args: Any,
        **kwargs: Any,
    ) -> None:
        self.log = logging.getLogger(f"LocalZoneFileProvider[{id}]")
        super().__init__(id, *args, **kwargs)
        self.directory = Path(directory)
        self.file_extension = file_extension
        self.default_ttl = int(default_ttl)
        self.hostmaster_email = hostmaster_email
        self.primary_nameserver = primary_nameserver
        self.refresh = int(refresh)
        self.retry = int(retry)
        self.expire = int(expire)
        self.nxdomain = int(nxdomain)

    # -- reading ------------------------------------------------------------------------------

    def zone_path(self, zone_name: str) -> Path:
        """`<directory>/example.org.zone` for `example.org.` (IDNA form, no trailing dot)."""
        return self.directory / f"{zone_name.rstrip('.')}{self.file_extension}"

    def list_zones(self) -> Iterator[str]:
        """Zone names (`example.org.`) of the files in `directory`, sorted; none if it is absent."""
        if not self.directory.is_dir():
            return
        n = len(self.file_extension)
        for entry in sorted(self.directory.iterdir()):
            name = entry.name
            if entry.is_file() and name.endswith(self.file_extension) and not name.startswith("."):
                yield f"{name[: len(name) - n]}."

    def populate(self, zone: Any, target: bool = False, lenient: bool = False) -> bool:
        """Add the file's records to `zone`; True if the file exists (also as a target)."""
        self.log.debug("populate: name=%s, target=%s, lenient=%s", zone.name, target, lenient)
        parsed = self._load(zone.name)
        if parsed is None:
            return False
        origin = dns.name.from_text(zone.name)
        for name, node in parsed.nodes.items():
            for rdataset in node:
                rtype = dns.rdatatype.to_text(rdataset.rdtype)
                if not self._exposed(name, rtype):
                    continue
                rrset = Rrset(
                    name.derelativize(origin).to_text().lower(),
                    rtype,
                    rdataset.ttl,
                    [rdata.to_text(origin=origin, relativize=False) for rdata in rdataset],
                )
                try:
                    record = Record.from_rrset(zone, rrset, lenient=lenient, source=self)
                except RecordException as err:  # invalid values, when not lenient
                    shown = display_path(self.zone_path(zone.name))
                    raise LocalZoneFileError(str(err), shown) from err
                zone.add_record(record, lenient=lenient)
        self.log.info("populate: found %s records", len(zone.records))
        return True

    def _exposed(self, name: dns.name.Name, rtype: str) -> bool:
        if rtype not in self.SUPPORTS:
            return False
        return not (rtype == "NS" and name == dns.name.empty)

    def _load(self, zone_name: str) -> dns.zone.Zone | None:
        """The file parsed with names relative to the zone, or None if there is no file."""
        path = self.zone_path(zone_name)
        shown = display_path(path)
        try:
            with path.open(encoding="utf-8") as fh:
                return dns.zone.from_file(
                    fh,
                    origin=zone_name,
                    relativize=True,
                    filename=shown,
                    allow_include=False,
                    check_origin=False,
                )
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError) as err:
            raise LocalZoneFileError(f"cannot read zone file: {err}", shown) from err
        except dns.exception.DNSException as err:
            raise _parse_error(shown, err) from err

    # -- writing ------------------------------------------------------------------------------

    def _apply(self, plan: Any) -> None:
        desired = plan.desired
        path = self.zone_path(desired.name)
        parsed = self._load(desired.name)  # again: the file may have changed since the plan
        if parsed is None:
            parsed = dns.zone.Zone(desired.name, relativize=True)  # _ensure_apex adds SOA, NS
        origin = dns.name.from_text(desired.name)
        self.log.debug(
            "_apply: zone=%s, changes=%d, file=%s", desired.name, len(plan.changes), path
        )
        # deletes first, so a CNAME replacing other data never meets it at the same node
        for change in sorted(plan.changes, key=lambda c: not isinstance(c, Delete)):
            record = change.record
            name = dns.name.from_text(record.fqdn).relativize(origin)
            if isinstance(change, Delete):
                parsed.delete_rdataset(name, record._type)
                continue
            rrset = change.new.to_rrset()
            parsed.replace_rdataset(
                name,
                dns.rdataset.from_text_list(
                    "IN", rrset._type, rrset.ttl, rrset.rdatas, origin=origin, relativize_to=origin
                ),
            )
        self._ensure_apex(parsed, desired.name)
        self._bump_serial(parsed, datetime.now(UTC).date())
        text = parsed.to_text(sorted=True, relativize=True, want_origin=True, want_comments=True)
        header = f"; {desired.name} written by mailzone (local provider); serial in the SOA\n"
        write_atomically(path, header + text)

    def _ensure_apex(self, parsed: dns.zone.Zone, zone_name: str) -> None:
        """Give a zone without them an SOA (serial 0, bumped next) and an apex NS."""
        apex = dns.name.empty
        origin = dns.name.from_text(zone_name)
        mname = _absolute(self.primary_nameserver or f"ns1.{zone_name}")
        if parsed.get_rdataset(apex, "SOA") is None:
            soa = (
                f"{mname} {self._rname(zone_name)} 0 {self.refresh} {self.retry} "
                f"{self.expire} {self.nxdomain}"
            )
            parsed.replace_rdataset(apex, self._rdataset("SOA", [soa], origin))
        if parsed.get_rdataset(apex, "NS") is None:
            parsed.replace_rdataset(apex, self._rdataset("NS", [mname], origin))

    def _rdataset(
        self, rtype: str, rdatas: list[str], origin: dns.name.Name
    ) -> dns.rdataset.Rdataset:
        return dns.rdataset.from_text_list(
            "IN", rtype, self.default_ttl, rdatas, origin=origin, relativize_to=origin
        )

    def _bump_serial(self, parsed: dns.zone.Zone, today: date) -> None:
        apex = dns.name.empty
        soa_set = parsed.get_rdataset(apex, "SOA")
        assert soa_set is not None, "_ensure_apex adds the SOA"
        soa: Any = soa_set[0]
        bumped = soa.replace(serial=next_serial(soa.serial, today))
        parsed.replace_rdataset(apex, dns.rdataset.from_rdata(soa_set.ttl, bumped))
        # replace_rdataset appends; put SOA then NS back at the top of the file (stable sort)
        parsed.find_node(apex).rdatasets.sort(key=lambda r: _APEX_ORDER.get(r.rdtype, 2))

    def _rname(self, zone_name: str) -> str:
        """SOA RNAME: `hostmaster` → `hostmaster.<zone>`, `a.b@example.net` → `a\\.b.example.net.`"""
        email = self.hostmaster_email
        if "@" in email:
            local, _, domain = email.rpartition("@")
            escaped = local.replace(".", "\\.")  # a dot in the local part is not a label break
            return f"{escaped}.{_absolute(domain)}"
        if email.endswith("."):
            return email
        return f"{email}.{zone_name}"


def write_atomically(path: Path, text: str) -> None:
    """Replace the zone file atomically; an OSError becomes a LocalZoneFileError naming it."""
    try:
        write_atomic(path, text)
    except OSError as err:
        raise LocalZoneFileError(f"cannot write zone file: {err}", display_path(path)) from err


def _absolute(name: str) -> str:
    """`ns1.example.net` and `ns1.example.net.` both mean the absolute name."""
    return name if name.endswith(".") else f"{name}."


def _parse_error(shown: str, err: dns.exception.DNSException) -> LocalZoneFileError:
    """dnspython says `<file>:<line>: <detail>`; keep that as location + message."""
    message = str(err)
    prefix = f"{shown}:"
    if message.startswith(prefix):
        line, sep, detail = message[len(prefix) :].partition(": ")
        if sep and line.isdigit():
            return LocalZoneFileError(detail, f"{shown}:{line}")
    return LocalZoneFileError(message or type(err).__name__, shown)
