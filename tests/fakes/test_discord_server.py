"""Tests of FakeDiscord, driven by an unmodified discord.py ``commands.Bot`` and a throwaway cog.

Each test scripts the cog's ``/run`` command with an inline coroutine, so the interaction flows are
real discord.py code paths (gateway dispatch → CommandTree → AsyncWebhookAdapter / HTTPClient).
"""

from __future__ import annotations

import asyncio
import io
import itertools
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import discord
import pytest
from discord import app_commands
from discord.ext import commands

from tests.fakes import discord_state as s
from tests.fakes.discord_client import running_client
from tests.fakes.discord_schema import answer_problems
from tests.fakes.discord_server import FakeDiscord, FakeInteraction
from tests.fakes.images import close_color, decode, make_image

Script = Callable[[discord.Interaction, dict[str, Any]], Awaitable[None]]
RED, GREEN, BLUE, FINAL = (255, 0, 0), (0, 255, 0), (0, 0, 255), (250, 200, 10)


def png(color: tuple[int, int, int], name: str, size: tuple[int, int] = (64, 64)) -> discord.File:
    return discord.File(io.BytesIO(make_image(color, size)), name)


class Harness(commands.Cog):
    """``/run`` executes whatever script the test installed and records the outcome."""

    img = app_commands.Group(name="img", description="image tools")

    def __init__(self) -> None:
        self.script: Script | None = None
        self.errors: list[BaseException] = []
        self.seen: list[dict[str, Any]] = []
        self.finished = asyncio.Event()

    async def _execute(self, interaction: discord.Interaction, opts: dict[str, Any]) -> None:
        self.seen.append(opts)
        try:
            assert self.script is not None
            await self.script(interaction, opts)
        except Exception as exc:  # the test inspects it
            self.errors.append(exc)
        finally:
            self.finished.set()

    @app_commands.command(name="run", description="run the installed script")
    async def run(self, interaction: discord.Interaction, prompt: str = "", count: int = 1, hd: bool = False,
                  strength: float = 0.5, ref: discord.Attachment | None = None) -> None:
        await self._execute(interaction, {"prompt": prompt, "count": count, "hd": hd, "strength": strength,
                                          "ref": ref})

    @img.command(name="show", description="subcommand variant")
    async def show(self, interaction: discord.Interaction, prompt: str) -> None:
        await self._execute(interaction, {"prompt": prompt, "sub": "show"})


@pytest.fixture
def fake_kwargs() -> dict[str, Any]:
    return {}  # tests override via @pytest.mark.parametrize("fake_kwargs", [...])


@pytest.fixture
async def fake(fake_kwargs: dict[str, Any]) -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord(**fake_kwargs) as server:
        yield server
        assert server.unhandled == []
        assert [(route, errors) for route, errors in answer_problems(server.calls) if errors] == []


@pytest.fixture
async def harness() -> Harness:
    return Harness()


@pytest.fixture
async def bot(fake: FakeDiscord, harness: Harness) -> AsyncIterator[commands.Bot]:
    client = commands.Bot(command_prefix="!", intents=discord.Intents.default(), guild_ready_timeout=0.05)
    await client.add_cog(harness)
    async with running_client(fake, client):
        yield client


async def run(fake: FakeDiscord, harness: Harness, script: Script, options: dict[str, Any] | None = None,
              **kwargs: Any) -> FakeInteraction:
    harness.script, harness.errors = script, []
    harness.finished.clear()
    name = kwargs.pop("name", "run")
    inter = await fake.invoke_slash(name, options, **kwargs)
    await asyncio.wait_for(harness.finished.wait(), 5)
    return inter


async def raw(fake: FakeDiscord, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
    """Bypass discord.py's client-side checks to probe a server rule directly."""
    headers = {"Authorization": f"Bot {fake.token}"}
    async with aiohttp.ClientSession(headers=headers) as session, \
            session.request(method, fake.api_base + path, **kwargs) as resp:
        assert resp.headers["Content-Type"] == "application/json"
        return resp.status, await resp.json()


def error_of(harness: Harness) -> discord.HTTPException:
    assert len(harness.errors) == 1, harness.errors
    err = harness.errors[0]
    assert isinstance(err, discord.HTTPException), repr(err)
    return err


# ---------------------------------------------------------------------------------------------- login


async def test_login_ready_and_guild_cache(fake: FakeDiscord, bot: commands.Bot) -> None:
    assert bot.user is not None and bot.user.id == fake.app_id and bot.application_id == fake.app_id
    guild = bot.get_guild(fake.guild_id)
    assert guild is not None and guild.member_count == 3
    assert isinstance(guild.get_channel(fake.text_channel_id), discord.TextChannel)
    assert isinstance(guild.get_channel(fake.forum_channel_id), discord.ForumChannel)
    assert fake.gateway.intents == discord.Intents.default().value
    # zstandard isn't installed here; if it ever is, discord.py asks for zstd-stream and gets text frames.
    assert fake.gateway.compress == ["zlib-stream"]
    assert [c.route for c in fake.calls[:2]] == [s.USERS_ME, s.APP_INFO]
    assert fake.calls[0].headers["Authorization"] == f"Bot {fake.token}"


async def test_wrong_token_is_login_failure(fake: FakeDiscord, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(discord.http.Route, "BASE", fake.api_base)
    client = discord.Client(intents=discord.Intents.default())
    try:
        with pytest.raises(discord.LoginFailure):
            await client.login("not-the-token")
    finally:
        await client.close()
    assert fake.calls[-1].status == 401


async def test_sync_and_option_types(fake: FakeDiscord, bot: commands.Bot, harness: Harness) -> None:
    synced = await bot.tree.sync()
    assert {c.name for c in synced} == {"run", "img"} and all(c.id for c in synced)
    run_cmd = next(c for c in fake.synced_commands[None] if c["name"] == "run")
    assert [(o["name"], o["type"]) for o in run_cmd["options"]] == [
        ("prompt", 3), ("count", 4), ("hd", 5), ("strength", 10), ("ref", 11)]

    async def noop(inter: discord.Interaction, opts: dict[str, Any]) -> None:
        await inter.response.send_message(f"{opts['prompt']} x{opts['count']}")

    inter = await run(fake, harness, noop, {"prompt": "cat", "count": 3, "hd": True, "strength": 0.25})
    assert harness.seen[-1] == {"prompt": "cat", "count": 3, "hd": True, "strength": 0.25, "ref": None}
    assert inter.payload["data"]["id"] == run_cmd["id"] and inter.ack_type == 4
    assert fake.messages[inter.original_message_id or 0].content == "cat x3"
    await run(fake, harness, noop, {"prompt": "dog"}, name="img", subcommand="show")
    assert harness.seen[-1] == {"prompt": "dog", "sub": "show"}


# ---------------------------------------------------------------------------------------------- /draw flow


async def test_defer_edit_thread_final_end_to_end(fake: FakeDiscord, bot: commands.Bot, harness: Harness) -> None:
    async def draw(inter: discord.Interaction, opts: dict[str, Any]) -> None:
        await inter.response.defer(thinking=True)
        original = await inter.original_response()
        thread = await original.create_thread(name=f"draw: {opts['prompt']}", auto_archive_duration=1440)
        for i, color in enumerate((RED, GREEN, BLUE), 1):
            await inter.edit_original_response(content=f"partial {i}/3", attachments=[png(color, f"partial_{i}.png")])
        await thread.send("done", file=png(FINAL, "final.png", (128, 96)))

    inter = await run(fake, harness, draw, {"prompt": "a red fox"})
    assert harness.errors == []
    assert [(c.method, c.route) for c in fake.calls if c.route.startswith(("/interactions", "/webhooks", "/ch"))] == [
        ("POST", s.CALLBACK), ("GET", s.ORIGINAL), ("POST", s.MESSAGE_THREADS),
        ("PATCH", s.ORIGINAL), ("PATCH", s.ORIGINAL), ("PATCH", s.ORIGINAL), ("POST", s.MESSAGES)]
    assert inter.deferred and inter.ack_type == 5 and inter.acked_at is not None
    for i, (call, color) in enumerate(zip(fake.route_calls("PATCH", s.ORIGINAL), (RED, GREEN, BLUE), strict=True), 1):
        assert [a["filename"] for a in call.json["attachments"]] == [f"partial_{i}.png"]
        (upload,) = call.files
        assert (upload.field, upload.filename) == ("files[0]", f"partial_{i}.png")
        image = decode(upload.data)
        assert image.format == "PNG" and image.size == (64, 64) and close_color(image.center, color)

    msg = fake.messages[inter.original_message_id or 0]
    assert [a.filename for a in msg.attachments] == ["partial_3.png"]  # PATCH replaces attachments
    assert not msg.loading and msg.flags & s.HAS_THREAD
    assert [v.content for v in msg.versions()] == ["", "partial 1/3", "partial 2/3", "partial 3/3"]
    assert msg.history[0].loading
    (thread,) = fake.threads()
    assert int(thread["id"]) == msg.id and int(thread["parent_id"]) == fake.text_channel_id
    assert isinstance(bot.get_channel(msg.id), discord.Thread)  # cached through THREAD_CREATE
    final = fake.messages[int(fake.route_calls("POST", s.MESSAGES)[0].response["id"])]
    assert final.channel_id == msg.id and final.position == 0
    assert decode(final.attachments[0].data).size == (128, 96)
    async with aiohttp.ClientSession() as session, session.get(final.attachments[0].url) as resp:
        assert resp.content_type == "image/png" and await resp.read() == final.attachments[0].data


async def test_attachment_option_downloads_from_cdn(fake: FakeDiscord, bot: commands.Bot, harness: Harness) -> None:
    ref_bytes = make_image(GREEN, (32, 16))
    got: list[bytes] = []

    async def read_ref(inter: discord.Interaction, opts: dict[str, Any]) -> None:
        assert opts["ref"] is not None and opts["ref"].filename == "ref.png" and opts["ref"].size == len(ref_bytes)
        got.append(await opts["ref"].read())
        await inter.response.send_message("ok", ephemeral=True)

    attachments = {"ref": ("ref.png", ref_bytes, "image/png")}
    inter = await run(fake, harness, read_ref, {"prompt": "x"}, attachments=attachments)
    assert harness.errors == [] and got == [ref_bytes]
    assert inter.ephemeral and fake.route_calls("GET", "/cdn/attachments/{channel_id}/{attachment_id}/{filename}")


async def test_followups_first_edits_loading_message(fake: FakeDiscord, bot: commands.Bot, harness: Harness) -> None:
    async def followups(inter: discord.Interaction, opts: dict[str, Any]) -> None:
        await inter.response.defer(ephemeral=True, thinking=True)
        first = await inter.followup.send("first", ephemeral=True, wait=True)
        second = await inter.followup.send("second", wait=True)
        harness.seen.append({"ids": (first.id, second.id)})

    inter = await run(fake, harness, followups)
    first_id, second_id = harness.seen[-1]["ids"]
    assert harness.errors == [] and first_id == inter.original_message_id and inter.followup_ids == [second_id]
    assert fake.messages[first_id].ephemeral and not fake.messages[first_id].loading
    assert fake.messages[second_id].content == "second"


# ---------------------------------------------------------------------------------------------- Discord rules


@pytest.mark.parametrize(("kwargs", "status", "code"), [
    ({"content": "x" * 2001}, 400, 50035),
    ({"embeds": [discord.Embed(title="t")] * 10 + []}, 200, 0),
    ({"embed": discord.Embed(title="t" * 257)}, 400, 50035),
    ({"embed": discord.Embed(description="d" * 4097)}, 400, 50035),
    ({"embeds": [discord.Embed(description="d" * 4000), discord.Embed(description="d" * 2001)]}, 400, 50035),
    ({"embed": discord.Embed(title="t").set_footer(text="f" * 2049)}, 400, 50035),
    ({"file": discord.File(io.BytesIO(b"\0" * 1025), "big.bin")}, 413, 40005),
])
async def test_message_limits_on_interaction_response(fake: FakeDiscord, bot: commands.Bot, harness: Harness,
                                                       kwargs: dict[str, Any], status: int, code: int) -> None:
    async def respond(inter: discord.Interaction, opts: dict[str, Any]) -> None:
        await inter.response.send_message(**kwargs)

    inter = await run(fake, harness, respond, attachment_size_limit=1024)
    if status == 200:
        assert harness.errors == [] and inter.ack_type == 4
        return
    err = error_of(harness)
    assert (err.status, err.code) == (status, code) and inter.acked_at is None


async def test_limits_discord_py_does_not_check(fake: FakeDiscord, bot: commands.Bot) -> None:
    path = f"/channels/{fake.text_channel_id}/messages"
    status, body = await raw(fake, "POST", path, json={"content": ""})
    assert (status, body["code"]) == (400, 50006)
    form = aiohttp.FormData(quote_fields=False)
    form.add_field("payload_json", '{"content": "many"}', content_type="application/json")
    for i in range(11):
        form.add_field(f"files[{i}]", b"x", filename=f"{i}.txt", content_type="application/octet-stream")
    status, body = await raw(fake, "POST", path, data=form)
    assert (status, body["code"]) == (400, 50035) and "files" in body["errors"]
    status, body = await raw(fake, "POST", path, data=b"\0" * (s.MAX_REQUEST_BYTES + 1))
    assert (status, body["code"]) == (413, 40005)
    status, body = await raw(fake, "POST", path, json={"embeds": [{"title": "e"}] * 11})
    assert (status, body["code"]) == (400, 50035) and "embeds" in body["errors"]
    status, body = await raw(fake, "POST", path, json={"content": "a", "embeds": [{"fields": [{}] * 26}]})
    assert (status, body["code"]) == (400, 50035) and "fields" in body["errors"]["embeds"]["0"]
    sent = [await raw(fake, "POST", path, json={"content": "once", "nonce": "n1", "enforce_nonce": True})
            for _ in range(2)]
    assert sent[0][1]["id"] == sent[1][1]["id"]  # enforce_nonce deduplicates the retry
    status, _ = await raw(fake, "GET", "/nope")
    assert status == 404 and fake.unhandled == ["GET /api/v10/nope"]
    fake.unhandled.clear()


@pytest.mark.parametrize("fake_kwargs", [{"ack_deadline": 0.2}])
async def test_late_and_double_ack(fake: FakeDiscord, bot: commands.Bot, harness: Harness) -> None:
    async def late(inter: discord.Interaction, opts: dict[str, Any]) -> None:
        await asyncio.sleep(0.3)
        await inter.response.defer()

    await run(fake, harness, late)
    err = error_of(harness)
    assert isinstance(err, discord.NotFound) and err.code == 10062

    async def twice(inter: discord.Interaction, opts: dict[str, Any]) -> None:
        await inter.response.defer()
        inter.response._response_type = None  # defeat discord.py's own guard to reach the server rule
        await inter.response.send_message("again")

    await run(fake, harness, twice)
    err = error_of(harness)
    assert (err.status, err.code) == (400, 40060)


async def test_expired_token(fake: FakeDiscord, bot: commands.Bot, harness: Harness) -> None:
    gate = asyncio.Event()

    async def slow(inter: discord.Interaction, opts: dict[str, Any]) -> None:
        await inter.response.defer()
        await gate.wait()
        await inter.edit_original_response(content="too late")

    harness.script = slow
    harness.finished.clear()
    await fake.invoke_slash("run")
    await fake.wait_for_call("POST", s.CALLBACK)
    fake.advance(fake.token_ttl + 1)
    gate.set()
    await asyncio.wait_for(harness.finished.wait(), 5)
    err = error_of(harness)
    assert (err.status, err.code) == (401, 50027)


# ---------------------------------------------------------------------------------------------- faults


@pytest.mark.parametrize("via", [True, False])
async def test_429_on_original_edit(fake: FakeDiscord, bot: commands.Bot, harness: Harness, via: bool) -> None:
    fake.inject_429("PATCH", s.ORIGINAL, retry_after=0.1, via=via)

    async def edit(inter: discord.Interaction, opts: dict[str, Any]) -> None:
        await inter.response.defer()
        await inter.edit_original_response(content="p", attachments=[png(RED, "p.png")])

    await run(fake, harness, edit)
    calls = fake.route_calls("PATCH", s.ORIGINAL)
    if via:  # discord.py sleeps retry_after and re-uploads the same bytes
        assert harness.errors == [] and [c.status for c in calls] == [429, 200]
        assert calls[1].t - calls[0].t >= 0.1 and calls[0].files[0].data == calls[1].files[0].data
    else:  # no Via header looks like a Cloudflare ban: no retry
        assert error_of(harness).status == 429 and len(calls) == 1


async def test_channel_faults_and_rate_limit(fake: FakeDiscord, bot: commands.Bot) -> None:
    channel = bot.get_channel(fake.text_channel_id)
    assert isinstance(channel, discord.TextChannel)
    fake.inject_429("POST", s.MESSAGES, retry_after=0.05, is_global=True)
    await channel.send("after global 429")
    assert [c.status for c in fake.route_calls("POST", s.MESSAGES)] == [429, 200]
    fake.fail_next("POST", s.MESSAGES, 403, 50013, "Missing Permissions")
    with pytest.raises(discord.Forbidden) as forbidden:
        await channel.send("nope")
    assert forbidden.value.code == 50013
    fake.deny_permission(fake.text_channel_id, "attach_files")
    with pytest.raises(discord.Forbidden):
        await channel.send(file=png(RED, "r.png"))
    fake.set_rate_limit("PATCH", s.MESSAGE, 1, 0.15)
    msg = await channel.send("v0")
    for i in range(1, 4):
        await msg.edit(content=f"v{i}")
    edits = fake.route_calls("PATCH", s.MESSAGE)
    assert [c.status for c in edits] == [200] * 3  # discord.py paced itself from the headers
    assert all(b.t - a.t >= 0.1 for a, b in itertools.pairwise(edits))
    assert [v.content for v in fake.messages[msg.id].versions()] == ["v0", "v1", "v2", "v3"]


# ---------------------------------------------------------------------------------------------- threads, DMs, gateway


async def test_thread_rules(fake: FakeDiscord, bot: commands.Bot) -> None:
    channel = bot.get_channel(fake.text_channel_id)
    assert isinstance(channel, discord.TextChannel)
    msg = await channel.send("starter")
    thread = await msg.create_thread(name="t")
    with pytest.raises(discord.HTTPException) as again:
        await msg.create_thread(name="t2")
    assert again.value.code == 160004
    other = await channel.send("other")
    with pytest.raises(discord.HTTPException) as bad_name:
        await other.create_thread(name="n" * 101)
    assert bad_name.value.code == 50035
    await fake.archive_thread(thread.id)
    await thread.send("wakes it up")
    assert fake.channels[thread.id]["thread_metadata"]["archived"] is False
    await fake.archive_thread(thread.id, locked=True)
    with pytest.raises(discord.HTTPException) as locked:
        await thread.send("no")
    assert locked.value.code == 160005
    private = await channel.create_thread(name="private")  # discord.py default type → private (12)
    assert private.type is discord.ChannelType.private_thread


async def test_forum_and_user_threads(fake: FakeDiscord, bot: commands.Bot, harness: Harness) -> None:
    post_id = await fake.create_forum_post("my post")
    user_thread = await fake.create_user_thread(fake.text_channel_id, "chat")
    await fake.wait_for(lambda: bot.get_channel(post_id) is not None and bot.get_channel(user_thread) is not None)

    async def reply(inter: discord.Interaction, opts: dict[str, Any]) -> None:
        assert isinstance(inter.channel, discord.Thread) and inter.channel.parent_id == fake.forum_channel_id
        await inter.response.send_message("in the forum post")

    inter = await run(fake, harness, reply, channel_id=post_id)
    assert harness.errors == [] and fake.messages[inter.original_message_id or 0].channel_id == post_id
    forum = bot.get_channel(fake.forum_channel_id)
    assert isinstance(forum, discord.ForumChannel)
    created = await forum.create_thread(name="bot post", content="hello", file=png(BLUE, "b.png"))
    assert created.message.id == created.thread.id and created.message.attachments[0].filename == "b.png"


async def test_dm_interaction(fake: FakeDiscord, bot: commands.Bot, harness: Harness) -> None:
    async def dm(inter: discord.Interaction, opts: dict[str, Any]) -> None:
        assert inter.guild is None and isinstance(inter.channel, discord.DMChannel)
        assert not isinstance(inter.user, discord.Member) and inter.user.id == fake.other_user_id
        await inter.response.send_message("hi in DMs")

    inter = await run(fake, harness, dm, guild=False, user_id=fake.other_user_id)
    assert harness.errors == [] and "user" in inter.payload and "member" not in inter.payload
    assert fake.messages[inter.original_message_id or 0].channel_id == fake.dm_channel_id(fake.other_user_id)


async def test_reconnect_resumes_and_messages_dispatch(fake: FakeDiscord, bot: commands.Bot,
                                                       harness: Harness) -> None:
    seen: list[discord.Message] = []

    async def on_message(message: discord.Message) -> None:
        seen.append(message)

    bot.add_listener(on_message)
    await fake.force_reconnect()
    await fake.wait_for(lambda: len(fake.gateway.resumes) == 1)
    await fake.send_user_message(fake.text_channel_id, "secret text")
    await fake.wait_for(lambda: len(seen) == 1)
    assert seen[0].content == ""  # no MESSAGE_CONTENT intent: content stripped like Discord does

    async def ok(inter: discord.Interaction, opts: dict[str, Any]) -> None:
        await inter.response.send_message("still alive")

    await run(fake, harness, ok)
    assert harness.errors == [] and len(fake.gateway.identifies) == 1


async def test_misc_routes_keep_the_client_healthy(fake: FakeDiscord, harness: Harness) -> None:
    intents = discord.Intents.default()
    intents.members = intents.message_content = True
    client = commands.Bot(command_prefix="!", intents=intents, guild_ready_timeout=0.05)
    await client.add_cog(harness)
    deleted: list[int] = []

    async def on_raw_message_delete(event: discord.RawMessageDeleteEvent) -> None:
        deleted.append(event.message_id)

    client.add_listener(on_raw_message_delete)
    async with running_client(fake, client):
        assert not any(f.get("op") == 8 for f in fake.gateway.received)  # member_count == len(members)
        channel = await client.fetch_channel(fake.text_channel_id)
        assert isinstance(channel, discord.TextChannel)
        async with channel.typing():
            first = await channel.send("one")
        reply = await first.reply("two")
        assert reply.reference is not None and reply.reference.message_id == first.id
        assert [m.content async for m in channel.history(limit=5)] == ["two", "one"]
        assert (await channel.fetch_message(first.id)).content == "one"
        await first.delete()
        await fake.wait_for(lambda: deleted == [first.id])
        user = await client.fetch_user(fake.user_id)
        dm_msg = await user.send("hello")
        assert dm_msg.channel.id == fake.dm_channel_id(fake.user_id)
        human = await fake.send_user_message(fake.text_channel_id, "visible with the intent")
        await fake.wait_for(lambda: any(m.id == human.id for m in client.cached_messages))
        assert next(m for m in client.cached_messages if m.id == human.id).content == "visible with the intent"

        async def delete_original(inter: discord.Interaction, opts: dict[str, Any]) -> None:
            await inter.response.send_message("bye")
            await inter.delete_original_response()
            with pytest.raises(discord.NotFound):
                await inter.original_response()

        inter = await run(fake, harness, delete_original)
        assert harness.errors == [] and fake.messages[inter.original_message_id or 0].deleted
        assert not client.is_closed() and human.id in fake.messages
