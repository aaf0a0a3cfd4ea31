"""Discord's shard routing rule, and which servers a process's recovery may touch."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from bot.core.shards import ShardScope, shard_of


def test_shard_of_follows_discords_formula() -> None:
    # 197038439483310086 >> 22 == 46977624770, an even number.
    assert shard_of(197038439483310086, 2) == 0
    assert shard_of(197038439483310086 + (1 << 22), 2) == 1
    assert shard_of(None, 16) == 0  # direct messages


@given(st.integers(min_value=1, max_value=2**63 - 1), st.integers(min_value=1, max_value=64))
def test_exactly_one_process_owns_each_server_when_shards_are_split(guild_id: int, count: int) -> None:
    halves = [ShardScope.of(count, range(0, count, 2)), ShardScope.of(count, range(1, count, 2))]
    assert sum(scope.owns(guild_id) for scope in halves) == 1
    assert ShardScope.of(count).owns(guild_id)


def test_describe() -> None:
    assert ShardScope.of(4, [1, 3]).describe() == "shards 1,3 of 4"
    assert ShardScope.everything().describe() == "all 1 shard(s)"
