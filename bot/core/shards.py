"""Which servers belong to this process when several processes split Discord's shards over one database."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


def shard_of(guild_id: int | None, shard_count: int) -> int:
    """Discord's routing rule: (guild_id >> 22) % shard_count; direct messages always arrive on shard 0."""
    if guild_id is None:
        return 0
    return (guild_id >> 22) % shard_count


@dataclass(frozen=True)
class ShardScope:
    """The shards one process runs. Start-up recovery only touches jobs of servers in scope: another process
    sharing the database owns the rest, and its jobs may still be running."""

    count: int
    ids: frozenset[int]

    @classmethod
    def of(cls, count: int, ids: Iterable[int] | None = None) -> ShardScope:
        return cls(count, frozenset(range(count) if ids is None else ids))

    @classmethod
    def everything(cls) -> ShardScope:
        return cls(1, frozenset({0}))

    def owns(self, guild_id: int | None) -> bool:
        return shard_of(guild_id, self.count) in self.ids

    def describe(self) -> str:
        if len(self.ids) == self.count:
            return f"all {self.count} shard(s)"
        return f"shards {','.join(map(str, sorted(self.ids)))} of {self.count}"
