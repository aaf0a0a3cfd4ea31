"""The access decision on its own: every way in asks the same function."""

from __future__ import annotations

from bot.core.access import (
    CANNOT_OPEN_THREADS,
    NOT_HERE,
    NOT_YOUR_JOB,
    NOT_YOUR_THREAD,
    OTHERS_IMAGES_OFF,
    Member,
    Place,
    Request,
    TurnHome,
    refusal,
)
from bot.core.guild_settings import GuildSettings

HERE = Place(guild_id=1, channel_id=10)
HOME = TurnHome(guild_id=1, channel_ids=frozenset({10, 11}))


def test_cancel_is_for_the_owner_or_a_moderator_whatever_the_editing_rule() -> None:
    anyone = GuildSettings(edit_policy="anyone")
    assert refusal(anyone, Request(Member(5), HERE, cancel=True, job_owner_id=7, turn=HOME)) == NOT_YOUR_JOB
    assert refusal(anyone, Request(Member(7), HERE, cancel=True, job_owner_id=7, turn=HOME)) is None
    moderator = Member(5, is_moderator=True)
    assert refusal(anyone, Request(moderator, HERE, cancel=True, job_owner_id=7, turn=HOME)) is None


def test_a_turn_from_another_server_or_channel_is_refused_for_every_action() -> None:
    elsewhere = TurnHome(guild_id=2, channel_ids=frozenset({10}))
    owner = Member(7, is_moderator=True)
    assert refusal(GuildSettings(), Request(owner, HERE, cancel=True, job_owner_id=7, turn=elsewhere)) == NOT_HERE
    assert refusal(GuildSettings(), Request(owner, HERE, turn=elsewhere)) == NOT_HERE
    other_channel = TurnHome(guild_id=1, channel_ids=frozenset({99}))
    assert refusal(GuildSettings(), Request(owner, HERE, turn=other_channel)) == NOT_HERE
    assert refusal(GuildSettings(), Request(owner, HERE, turn=HOME)) is None


def test_thread_permission_only_matters_when_a_thread_opens() -> None:
    member = Member(5, can_create_threads=False)
    assert refusal(GuildSettings(), Request(member, HERE, opens_thread=True)) == CANNOT_OPEN_THREADS
    assert refusal(GuildSettings(), Request(member, HERE)) is None


def test_editing_rule_and_others_images() -> None:
    starter = GuildSettings(edit_policy="starter")
    assert refusal(starter, Request(Member(5), HERE, conversation_owner_id=7)) == NOT_YOUR_THREAD
    assert refusal(starter, Request(Member(5, is_moderator=True), HERE, conversation_owner_id=7)) is None
    assert refusal(GuildSettings(), Request(Member(5), HERE, image_author="other")) == OTHERS_IMAGES_OFF
    for author in ("self", "bot"):
        assert refusal(GuildSettings(), Request(Member(5), HERE, image_author=author)) is None  # type: ignore[arg-type]
    assert refusal(GuildSettings(edit_others_images=True), Request(Member(5), HERE, image_author="other")) is None
