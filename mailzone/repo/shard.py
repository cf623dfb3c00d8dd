"""`--shard K/N`: a stable split of a repository's DNS zones over N runs (CI jobs).

Light on imports: the CLI parses the option before it loads anything else."""

from __future__ import annotations

from dataclasses import dataclass

MAX_SHARDS = 256


def shard_of(zone: str, count: int) -> int:
    """The shard (1..count) of a DNS zone (IDNA, as specs name it): sha256 of its name, so the
    same zone lands in the same shard on every machine, whatever the other zones are."""
    name = zone.rstrip(".").lower()
    if not name.isascii():
        name = name.encode("idna").decode("ascii")
    import hashlib  # not for `--help`

    digest = hashlib.sha256(name.encode("ascii")).digest()
    return int.from_bytes(digest[:8], "big") % count + 1


@dataclass(frozen=True)
class Shard:
    """Shard `index` of `count`: the zones `shard_of` puts there."""

    index: int
    count: int

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    def holds(self, zone: str) -> bool:
        """Whether the zone (every domain in it) belongs to this shard."""
        return shard_of(zone, self.count) == self.index


def shard_count(zones: int, max_shards: int, per_shard: int) -> int:
    """How many shards to split `zones` zones into: about `per_shard` each, 1 to `max_shards`."""
    return max(1, min(max_shards, -(-zones // per_shard)))


def parse_shard(text: str) -> Shard:
    """`K/N` with 1 <= K <= N <= 256; ValueError saying what is wrong."""
    index, sep, count = text.strip().partition("/")
    if not sep or not index.isdigit() or not count.isdigit():
        raise ValueError(f"'{text}' is not K/N (shard K of N, e.g. 1/4)")
    k, n = int(index), int(count)
    if not 1 <= n <= MAX_SHARDS:
        raise ValueError(f"'{text}': N must be 1 to {MAX_SHARDS}")
    if not 1 <= k <= n:
        raise ValueError(f"'{text}': K must be 1 to {n}")
    return Shard(k, n)
