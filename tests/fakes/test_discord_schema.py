"""The fake Discord checks bodies against Discord's API description (tests/fakes/discord_schema.py).

Requests: a body the description rejects gets Discord's 400 50035 "Invalid Form Body" with the nested
``errors`` tree and is recorded in ``FakeDiscord.validation_errors`` (tests/conftest.py fails a test on any).
Responses: what the fake answers on the message, interaction and thread routes must match the description,
since discord.py builds its models from them without checking.
"""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import discord
import pytest
from discord.ext import commands

from tests.fakes import discord_state as s
from tests.fakes.discord_client import running_client
from tests.fakes.discord_schema import answer_problems, request_schema, response_problems
from tests.fakes.discord_server import FakeDiscord, FakeInteraction
from tests.fakes.images import make_image
from tests.fakes.test_discord_server import Harness, Script

MESSAGES = "/channels/{cid}/messages"
UNKNOWN = [{"code": "UNKNOWN_FIELD", "message": "Unknown field: Discord's API description does not declare it."}]
NOT_BOOLEAN = [{"code": "BASE_TYPE_BOOLEAN", "message": "Must be either true or false."}]

@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord() as server:
        yield server
        assert server.unhandled == []


@pytest.fixture
async def harness() -> Harness:
    return Harness()


@pytest.fixture
async def bot(fake: FakeDiscord, harness: Harness) -> AsyncIterator[commands.Bot]:
    client = commands.Bot(command_prefix="!", intents=discord.Intents.default(), guild_ready_timeout=0.05)
    await client.add_cog(harness)
    async with running_client(fake, client):
        yield client


async def raw(fake: FakeDiscord, method: str, path: str, *, auth: bool = True, **kwargs: Any) -> tuple[int, Any]:
    """Straight to the fake, past discord.py's own shaping of bodies."""
    headers = {"Authorization": f"Bot {fake.token}"} if auth else {}
    async with aiohttp.ClientSession(headers=headers) as session, \
            session.request(method, fake.api_base + path, **kwargs) as resp:
        return resp.status, await resp.json()


async def send(fake: FakeDiscord, body: Any) -> tuple[int, Any]:
    return await raw(fake, "POST", MESSAGES.format(cid=fake.text_channel_id), json=body)


async def run(fake: FakeDiscord, harness: Harness, script: Script) -> FakeInteraction:
    harness.script, harness.errors = script, []
    harness.finished.clear()
    inter = await fake.invoke_slash("run", {})
    await asyncio.wait_for(harness.finished.wait(), 5)
    return inter


# ---------------------------------------------------------------------------------------------- requests


async def test_a_valid_body_passes_and_is_not_recorded(fake: FakeDiscord) -> None:
    body = {"content": "hi", "tts": False, "nonce": 17, "enforce_nonce": True, "flags": 0,
            "embeds": [{"title": "t", "color": 0xFF0000, "fields": [{"name": "a", "value": "b", "inline": True}]}],
            "allowed_mentions": {"parse": [], "replied_user": False}}
    status, answer = await send(fake, body)
    assert status == 200 and answer["content"] == "hi" and answer["embeds"][0]["fields"][0]["name"] == "a"
    assert fake.validation_errors == []


async def test_unknown_field_is_invalid_form_body(fake: FakeDiscord) -> None:
    status, answer = await send(fake, {"content": "x", "colour": 1})
    assert status == 400
    assert answer == {"code": 50035, "message": "Invalid Form Body", "errors": {"colour": {"_errors": UNKNOWN}}}
    assert fake.validation_errors == [
        "POST /channels/{channel_id}/messages: In colour: Unknown field: Discord's API description does not "
        "declare it. (UNKNOWN_FIELD)"]
    assert not any(m.content == "x" for m in fake.messages.values())  # nothing was posted


async def test_wrong_type_is_invalid_form_body(fake: FakeDiscord) -> None:
    status, answer = await send(fake, {"content": "x", "tts": "yes"})
    assert (status, answer["code"], answer["errors"]) == (400, 50035, {"tts": {"_errors": NOT_BOOLEAN}})
    assert len(fake.validation_errors) == 1 and "In tts: Must be either true or false." in fake.validation_errors[0]


async def test_bad_nested_embed_fields_are_reported_at_their_path(fake: FakeDiscord) -> None:
    status, answer = await send(fake, {"embeds": [{"title": "ok"}, {"title": 5, "fields": [
        {"name": "a", "value": "b", "inline": "no"}, {"value": "no name"}]}]})
    assert (status, answer["code"]) == (400, 50035)
    assert answer["errors"] == {"embeds": {"1": {
        "title": {"_errors": [{"code": "STRING_TYPE_CONVERT", "message": 'Could not interpret "5" as string.'}]},
        "fields": {"0": {"inline": {"_errors": NOT_BOOLEAN}},
                   "1": {"name": {"_errors": [{"code": "BASE_TYPE_REQUIRED", "message": "This field is required"}]}}},
    }}}
    # An undeclared key deep inside an otherwise valid embed is caught too.
    status, answer = await send(fake, {"embeds": [{"title": "t", "footer": {"text": "f", "colour": 1}}]})
    assert (status, answer["errors"]) == (400, {"embeds": {"0": {"footer": {"colour": {"_errors": UNKNOWN}}}}})
    assert len(fake.validation_errors) == 2


async def test_bad_interaction_callback_bodies(fake: FakeDiscord) -> None:
    inter = await fake.invoke_slash("run", {})
    path = f"/interactions/{inter.id}/{inter.token}/callback"
    status, answer = await raw(fake, "POST", path, auth=False, json={"type": 4, "data": {"content": "x",
                                                                                        "ephemeral": True}})
    assert (status, answer["code"], answer["errors"]) == (400, 50035, {"data": {"ephemeral": {"_errors": UNKNOWN}}})
    status, answer = await raw(fake, "POST", path, auth=False, json={"type": 99})
    assert (status, answer["errors"]) == (400, {"type": {"_errors": [
        {"code": "BASE_TYPE_CHOICES", "message": "Value must be one of {1, 4, 5, 6, 7, 8, 9, 12, 13}."}]}})
    status, answer = await raw(fake, "POST", path, auth=False, json={"type": 4, "data": {"embeds": [{"title": []}]}})
    assert (status, list(answer["errors"]["data"]["embeds"]["0"])) == (400, ["title"])
    assert [e.split(":")[0] for e in fake.validation_errors] == [f"POST {s.CALLBACK}"] * 3
    assert inter.acked_at is None  # a rejected body does not use up the acknowledgement
    status, answer = await raw(fake, "POST", path, auth=False, json={"type": 4, "data": {"content": "fine"}})
    assert status == 200 and answer["resource"]["message"]["content"] == "fine"


async def test_multipart_payload_json_is_validated(fake: FakeDiscord) -> None:
    def form(payload: dict[str, Any]) -> aiohttp.FormData:
        data = aiohttp.FormData(quote_fields=False)
        data.add_field("payload_json", json.dumps(payload), content_type="application/json")
        data.add_field("files[0]", make_image((1, 2, 3), (8, 8)), filename="a.png",
                       content_type="application/octet-stream")
        return data

    path = MESSAGES.format(cid=fake.text_channel_id)
    # discord.py's shape: the new file's attachment id is the int index 0 (a snowflake in the description).
    status, answer = await raw(fake, "POST", path, data=form({"content": "pic", "attachments": [
        {"id": 0, "filename": "a.png"}]}))
    assert status == 200 and answer["attachments"][0]["filename"] == "a.png" and fake.validation_errors == []
    status, answer = await raw(fake, "POST", path, data=form({"content": "pic", "attachments": [
        {"id": 0, "filename": "a.png", "spoiler": "yes"}]}))
    assert (status, answer["errors"]) == (400, {"attachments": {"0": {"spoiler": {"_errors": UNKNOWN}}}})
    assert fake.validation_errors[-1].startswith("POST /channels/{channel_id}/messages: In attachments.0.spoiler")


async def test_snowflake_normalisation_is_narrow(fake: FakeDiscord) -> None:
    first = (await send(fake, {"content": "one"}))[1]
    # An int where the description says snowflake is how discord.py writes ids: accepted.
    status, _ = await send(fake, {"content": "two", "message_reference": {"message_id": int(first["id"])}})
    assert status == 200
    status, answer = await send(fake, {"content": "three", "message_reference": {"message_id": "abc"}})
    assert (status, answer["errors"]) == (400, {"message_reference": {"message_id": {"_errors": [
        {"code": "NUMBER_TYPE_COERCE", "message": 'Value "abc" is not snowflake.'}]}}})
    # An int anywhere else that wants a string is still wrong, and so is a bool for a snowflake.
    status, answer = await send(fake, {"content": 5})
    assert (status, answer["errors"]["content"]["_errors"][0]["code"]) == (400, "STRING_TYPE_CONVERT")
    status, answer = await send(fake, {"content": "x", "message_reference": {"message_id": True}})
    assert (status, list(answer["errors"]["message_reference"])) == (400, ["message_id"])
    assert len(fake.validation_errors) == 3


async def test_hand_written_rules_still_apply_to_schema_valid_bodies(fake: FakeDiscord) -> None:
    # The description allows 4000 characters on a channel message; Discord (and the fake) allow 2000.
    status, answer = await send(fake, {"content": "x" * 2001})
    assert (status, answer["errors"]) == (400, {"content": {"_errors": [
        {"code": "BASE_TYPE_MAX_LENGTH", "message": "Must be 2000 or fewer in length."}]}})
    status, answer = await send(fake, {"content": ""})
    assert (status, answer["code"]) == (400, 50006)
    assert fake.validation_errors == []  # those are Discord's rules, not the description's


def test_discord_py_extras_are_accepted_only_in_the_form_discord_py_writes() -> None:
    edit = request_schema("PATCH", s.ORIGINAL)
    assert edit is not None
    assert edit.errors({"content": "x", "tts": False, "embeds": [{"title": "t", "flags": 0}]}) is None
    assert edit.errors({"content": "x", "tts": True}) == {"tts": {"_errors": UNKNOWN}}
    assert edit.errors({"embeds": [{"title": "t", "flags": "0"}]}) == {"embeds": {"0": {"flags": {"_errors": UNKNOWN}}}}
    commands_put = request_schema("PUT", s.GLOBAL_COMMANDS)
    assert commands_put is not None
    channel_option = {"type": 7, "name": "where", "description": "d", "channel_types": [0, 15, 16]}
    assert commands_put.errors([{"name": "c", "description": "d", "nsfw": False, "options": [channel_option]}]) is None
    channel_option["channel_types"] = [0, 99]
    assert commands_put.errors([{"name": "c", "description": "d", "options": [channel_option]}]) == {"0": {"options": {
        "0": {"channel_types": {"1": {"_errors": [{"code": "BASE_TYPE_CHOICES", "message": (
            "Value must be one of {0, 1, 2, 3, 4, 5, 10, 11, 12, 13, 14, 15, 16}.")}]}}}}}}


# ---------------------------------------------------------------------------------------------- responses


async def test_the_fakes_answers_match_discords_description(fake: FakeDiscord, bot: commands.Bot,
                                                           harness: Harness) -> None:
    async def flows(inter: discord.Interaction, opts: dict[str, Any]) -> None:
        await inter.response.defer(thinking=True)
        original = await inter.original_response()
        thread = await original.create_thread(name="replies", auto_archive_duration=1440)
        file = discord.File(io.BytesIO(make_image((9, 9, 9), (16, 16))), "p.png", description="alt")
        await inter.edit_original_response(content="partial", attachments=[file])
        follow = await inter.followup.send("more", wait=True)
        await inter.followup.edit_message(follow.id, content="more!", embed=discord.Embed(title="e"))
        sent = await thread.send("done", embed=discord.Embed(title="t", description="d").add_field(name="n", value="v"),
                                 file=discord.File(io.BytesIO(make_image((1, 1, 1), (8, 8))), "plain.png"))
        await sent.reply("reply")
        await sent.edit(content="done!")
        assert isinstance(inter.channel, discord.TextChannel)
        await inter.channel.create_thread(name="side", type=discord.ChannelType.public_thread)
        await inter.channel.fetch_message(original.id)
        [m async for m in thread.history(limit=5)]

    async def answer(inter: discord.Interaction, opts: dict[str, Any]) -> None:
        await inter.response.send_message("hello", ephemeral=True)

    await run(fake, harness, flows)
    await run(fake, harness, answer)
    assert harness.errors == []
    checked = answer_problems(fake.calls)
    assert {name for name, _ in checked} >= {f"POST {s.CALLBACK}", f"GET {s.ORIGINAL}", f"PATCH {s.ORIGINAL}",
                                             f"POST {s.WEBHOOK}", f"PATCH {s.WEBHOOK_MESSAGE}", f"POST {s.MESSAGES}",
                                             f"PATCH {s.MESSAGE}", f"GET {s.MESSAGE}", f"GET {s.MESSAGES}",
                                             f"POST {s.MESSAGE_THREADS}", f"POST {s.THREADS}"}
    assert [(name, problems) for name, problems in checked if problems] == []


def test_response_check_catches_a_wrong_message() -> None:
    """The check above can fail: a message with an int id, or without its author, is not Discord's output."""
    message = {"id": "1", "channel_id": "2", "type": 0, "content": "", "author": {
        "id": "3", "username": "u", "discriminator": "0", "global_name": None, "avatar": None, "public_flags": 0,
        "flags": 0, "primary_guild": None}, "timestamp": "2026-01-01T00:00:00+00:00", "edited_timestamp": None,
        "attachments": [], "embeds": [], "mentions": [], "mention_roles": [], "mention_everyone": False,
        "components": [], "flags": 0, "pinned": False, "tts": False}
    assert response_problems("POST", s.MESSAGES, 200, message) == []
    assert response_problems("POST", s.MESSAGES, 200, {**message, "id": 1}) == [
        'In id: Value "1" is not snowflake. (NUMBER_TYPE_COERCE)']
    without_author = {k: v for k, v in message.items() if k != "author"}
    assert response_problems("POST", s.MESSAGES, 200, without_author) == [
        "In author: This field is required (BASE_TYPE_REQUIRED)"]
