"""The built-in `local` provider: one RFC 1035 zone file per zone, in a directory.

    providers:
      local:
        class: mailzone.octo.local.LocalZoneFileProvider
        directory: build/zones          # <directory>/<zone><file_extension>
        nameservers: [ns1.example.net, ns2.example.net]   # the apex NS set
        glue: {}                        # addresses of nameservers inside the zone
        primary_nameserver: null        # SOA MNAME; null means the first nameserver
        hostmaster_email: null          # SOA RNAME, e.g. dns@example.net; null: hostmaster.<zone>

Every option is a field of :class:`LocalZoneOptions` (docs/providers.md's table comes from it).

Unlike octodns-bind's ZoneFileProvider, it is a real target:

- `populate(zone, target=True)` reads the file, so a second plan is empty and records added to
  the file by hand show up in the plan instead of being wiped silently;
- `_apply` re-reads the file and changes only the RRsets named in the plan: SOA (but its serial),
  apex NS, types octoDNS cannot express and every other RRset keep their data. dnspython
  re-renders the whole file, though: names sorted and relative, one RR per line, comments at the
  end of a record line kept, comment lines and `$TTL`/`$ORIGIN` layout not;
- the file is replaced atomically (temp file in the same directory, fsync, `os.replace`);
- the file loads in BIND (`named-checkzone`), Knot (`kzonecheck`) and NSD (`nsd-checkzone`):
  the SOA and apex NS follow the options on every write (a new file gets the defaults), and a
  nameserver inside the zone gets its glue A/AAAA from `glue`, or the write fails before the
  file changes. Without configured nameservers the NS is `ns1.mailzone.invalid.` (RFC 6761: it
  never resolves), a placeholder that loads everywhere and points at nobody's server.

SOA serials are `YYYYMMDDnn` (UTC): each write uses `max(old + 1, today * 100)`, see
:func:`next_serial`. Names outside the zone's origin are dropped by dnspython when the file is
read, so they do not survive a write (name servers ignore them too).
"""

from __future__ import annotations

import ipaddress
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
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from mailzone.errors import ProviderError
from mailzone.octo import fastpath
from mailzone.octo.apex import ADDRESS_TYPES, Apex, ApexError, settle_apex
from mailzone.spec.yamlfile import display_path
from mailzone.util.confine import is_inside, read_regular
from mailzone.util.files import write_atomic

SERIAL_MAX = 2**32 - 1
PLACEHOLDER_NS = "ns1.mailzone.invalid."
_APEX_ORDER = {dns.rdatatype.SOA: 0, dns.rdatatype.NS: 1}


class LocalZoneOptions(BaseModel):
    """The `local` provider's options (`providers/local.yaml`), with their defaults."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    directory: str = Field("build/zones", description="Where the zone files are.")
    file_extension: str = Field(".zone", description="`<directory>/<zone><file_extension>`.")
    default_ttl: int = Field(3600, ge=0, description="TTL of the SOA, NS and glue it writes.")
    nameservers: list[str] = Field(
        default_factory=list,
        description="The apex NS set, as host names; set in the file on every write. Default: "
        "the host names among `mailzone.nameservers` (no IP address, no port other than 53), "
        f"else `{PLACEHOLDER_NS}` (never resolves, RFC 6761: the file loads, delegating nowhere).",
    )
    glue: dict[str, list[str]] = Field(
        default_factory=dict,
        description="Addresses of nameservers inside the zone, e.g. `{ns1.example.org: "
        "[192.0.2.53]}`: written as their A/AAAA (kept by this provider, like the SOA). An "
        "in-zone nameserver with no address in the zone and none here is an error.",
    )
    primary_nameserver: str | None = Field(
        None,
        description="SOA MNAME (default: the first nameserver); without `nameservers`, also "
        "the NS set.",
    )
    hostmaster_email: str | None = Field(
        None,
        description="SOA RNAME, as `dns@example.net` or a name (default: `hostmaster.<zone>` "
        "in a new file; an existing file keeps its own).",
    )
    refresh: int = Field(3600, ge=0, description="SOA refresh of a new file.")
    retry: int = Field(600, ge=0, description="SOA retry of a new file.")
    expire: int = Field(604800, ge=0, description="SOA expire of a new file.")
    nxdomain: int = Field(300, ge=0, description="SOA minimum (negative TTL) of a new file.")

    @field_validator("glue")
    @classmethod
    def _addresses(cls, glue: dict[str, list[str]]) -> dict[str, list[str]]:
        for name, addresses in glue.items():
            if not addresses:
                raise ValueError(f"glue for {name} lists no address")
            for address in addresses:
                ipaddress.ip_address(str(address))  # ValueError names the bad one
        return {
            _absolute(name).lower(): [str(a) for a in addresses] for name, addresses in glue.items()
        }

    @field_validator("nameservers")
    @classmethod
    def _names(cls, names: list[str]) -> list[str]:
        return [_absolute(name).lower() for name in names]


MAX_ZONE_FILE_BYTES = 256 << 20


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
        directory: str | None = None,
        file_extension: str | None = None,
        default_ttl: int | None = None,
        nameservers: list[str] | None = None,
        glue: dict[str, list[str]] | None = None,
        primary_nameserver: str | None = None,
        hostmaster_email: str | None = None,
        refresh: int | None = None,
        retry: int | None = None,
        expire: int | None = None,
        nxdomain: int | None = None,
        *args: Any,
        **kwargs: Any,
    ) -> None:
        self.log = logging.getLogger(f"LocalZoneFileProvider[{id}]")
        super().__init__(id, *args, **kwargs)
        given = {k: v for k, v in locals().items() if k in LocalZoneOptions.model_fields}
        try:  # None means the default: the model holds the defaults and says what they mean
            options = LocalZoneOptions(**{k: v for k, v in given.items() if v is not None})
        except ValidationError as err:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in err.errors()
            )
            raise LocalZoneFileError(problems, f"provider '{id}'") from None
        self.options = options
        self.directory = Path(options.directory)
        self.file_extension = options.file_extension
        self.default_ttl = options.default_ttl
        primary = [_absolute(options.primary_nameserver)] if options.primary_nameserver else []
        self.configured_nameservers = options.nameservers or primary  # set on every write
        self.nameservers = self.configured_nameservers or [PLACEHOLDER_NS]
        self.glue = options.glue
        strays = sorted(set(self.glue) - set(self.nameservers))
        if strays:
            raise LocalZoneFileError(
                f"glue: {', '.join(strays)} is not one of the nameservers "
                f"({', '.join(self.nameservers)})",
                f"provider '{id}'",
            )
        self.primary_nameserver = options.primary_nameserver
        self.hostmaster_email = options.hostmaster_email
        self.refresh = options.refresh
        self.retry = options.retry
        self.expire = options.expire
        self.nxdomain = options.nxdomain
        self._read: dict[str, dns.zone.Zone | None] = {}  # parses `live_zone` made for `populate`

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

    def live_zone(self, zone_name: str) -> fastpath.LiveZone:
        """The file in the pre-filter's canonical form; the next `populate` of the zone uses
        the same parse."""
        parsed = self._load(zone_name)
        self._read[zone_name] = parsed
        if parsed is None:
            return fastpath.LiveZone(exists=False)
        origin = dns.name.from_text(zone_name)
        return fastpath.live_zone(
            zone_name,
            (
                (
                    fqdn,
                    rtype,
                    rdataset.ttl,
                    [fastpath.lean_value(rtype, r, origin) for r in rdataset],
                )
                for fqdn, rtype, rdataset in self._sets(parsed, zone_name)
            ),
        )

    def forget_live(self, zone_name: str) -> None:
        """Drop the parse `live_zone` kept (the zone needs no plan)."""
        self._read.pop(zone_name, None)

    def populate(self, zone: Any, target: bool = False, lenient: bool = False) -> bool:
        """Add the file's records to `zone`; True if the file exists (also as a target)."""
        self.log.debug("populate: name=%s, target=%s, lenient=%s", zone.name, target, lenient)
        read = self._read
        parsed = read.pop(zone.name) if zone.name in read else self._load(zone.name)
        if parsed is None:
            return False
        origin = dns.name.from_text(zone.name)
        for fqdn, rtype, rdataset in self._sets(parsed, zone.name):
            rrset = Rrset(
                fqdn,
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

    def _sets(
        self, parsed: dns.zone.Zone, zone_name: str
    ) -> Iterator[tuple[str, str, dns.rdataset.Rdataset]]:
        """(fqdn, type, rdataset) of every set this provider exposes."""
        origin = dns.name.from_text(zone_name)
        for name, node in parsed.nodes.items():
            for rdataset in node:
                rtype = dns.rdatatype.to_text(rdataset.rdtype)
                fqdn = name.derelativize(origin).to_text().lower()
                if self._exposed(name, fqdn, rtype):
                    yield fqdn, rtype, rdataset

    def _exposed(self, name: dns.name.Name, fqdn: str, rtype: str) -> bool:
        """Not the apex NS nor the glue of `glue:`: this provider keeps those itself."""
        if rtype not in self.SUPPORTS:
            return False
        if rtype in ADDRESS_TYPES and fqdn in self.glue:
            return False
        return not (rtype == "NS" and name == dns.name.empty)

    def _load(self, zone_name: str) -> dns.zone.Zone | None:
        """The file parsed with names relative to the zone, or None if there is no file."""
        path = self.zone_path(zone_name)
        shown = display_path(self.directory) + "/" + path.name  # not a symlink's target
        if not is_inside(path, self.directory):  # a symlink: its lines would show in errors
            raise LocalZoneFileError(
                "a symlink to a file outside the zone-file directory; mailzone reads only "
                "zone files inside it",
                shown,
            )
        try:
            raw = read_regular(path, MAX_ZONE_FILE_BYTES)
            text = raw.decode("utf-8") if raw is not None else None
        except FileNotFoundError:
            return None
        except UnicodeDecodeError:
            raise LocalZoneFileError("cannot read zone file: not UTF-8 text", shown) from None
        except (OSError, ValueError) as err:
            raise LocalZoneFileError(f"cannot read zone file: {err}", shown) from err
        if text is None:
            raise LocalZoneFileError(f"larger than {MAX_ZONE_FILE_BYTES >> 20} MiB", shown)
        try:
            return dns.zone.from_text(
                text,
                origin=zone_name,
                relativize=True,
                filename=shown,
                allow_include=False,
                check_origin=False,
            )
        except dns.exception.DNSException as err:
            raise _parse_error(shown, err) from err

    # -- writing ------------------------------------------------------------------------------

    def _apply(self, plan: Any) -> None:
        desired = plan.desired
        path = self.zone_path(desired.name)
        parsed = self._load(desired.name)  # again: the file may have changed since the plan
        if parsed is None:
            parsed = dns.zone.Zone(desired.name, relativize=True)  # settle_apex adds SOA, NS
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
        try:
            settle_apex(parsed, self._apex(desired.name))
        except ApexError as err:  # before writing: the file stays as it was
            raise LocalZoneFileError(err.message, display_path(path)) from None
        self._bump_serial(parsed, datetime.now(UTC).date())
        text = parsed.to_text(sorted=True, relativize=True, want_origin=True, want_comments=True)
        header = f"; {desired.name} written by mailzone (local provider); serial in the SOA\n"
        write_atomically(path, header + text)

    def _apex(self, zone_name: str) -> Apex:
        return Apex(
            fallback=self.nameservers,
            nameservers=self.configured_nameservers,
            glue=self.glue,
            primary=_absolute(self.primary_nameserver) if self.primary_nameserver else None,
            rname=self._rname(zone_name),
            ttl=self.default_ttl,
            timers=(self.refresh, self.retry, self.expire, self.nxdomain),
        )

    def _bump_serial(self, parsed: dns.zone.Zone, today: date) -> None:
        apex = dns.name.empty
        soa_set = parsed.get_rdataset(apex, "SOA")
        assert soa_set is not None, "settle_apex adds the SOA"
        soa: Any = soa_set[0]
        bumped = soa.replace(serial=next_serial(soa.serial, today))
        parsed.replace_rdataset(apex, dns.rdataset.from_rdata(soa_set.ttl, bumped))
        # replace_rdataset appends; put SOA then NS back at the top of the file (stable sort)
        parsed.find_node(apex).rdatasets.sort(key=lambda r: _APEX_ORDER.get(r.rdtype, 2))

    def _rname(self, zone_name: str) -> str | None:
        """SOA RNAME: `hostmaster` → `hostmaster.<zone>`, `a.b@example.net` → `a\\.b.example.net.`"""
        email = self.hostmaster_email
        if email is None:
            return None
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
