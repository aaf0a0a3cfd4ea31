"""Members' languages end to end: a German member's /draw reads German from the status line to the buttons, and
the synced commands carry their names and descriptions in every shipped language."""

from __future__ import annotations

import asyncio
import re

from tests.cogs.test_log_channel import Pace
from tests.cogs.test_settings import add_text_channel, channel_option
from tests.fakes.discord_state import FakeMessage
from tests.fakes.openai_server import Fault, ImageScript
from tests.harness import Harness

PARTIALS = [(90, 90, 90), (60, 120, 180)]
DISCORD_LOCALES = ("de", "es-ES", "fr", "ja", "pt-BR")
# Discord's Latin American Spanish has no catalogue of its own; it reads the Spanish one rather than English.
SYNCED_LOCALES = {*DISCORD_LOCALES, "es-419"}


def labels(message: FakeMessage) -> list[str]:
    return [c.get("label", "") for row in message.components for c in row.get("components", [])]


async def test_a_german_draw_reads_german_end_to_end(harness: Harness) -> None:
    fd = harness.discord
    running = await harness.start_bot()
    harness.openai.queue_script(
        ImageScript(partial_colors=PARTIALS, revised_prompt="Eine gemütliche Katze", event_delay=0.02)
    )

    draw = await harness.command(running, "draw", {"prompt": "eine Katze mit Schal"}, locale="de")

    reply = fd.messages[draw.original_message_id]
    shown = [v for v in reply.versions() if not v.loading]
    status = shown[0]
    assert re.fullmatch(
        r"🎨 Zeichne… das dauert meist 20–60 Sekunden\. Geschätzte Kosten: höchstens \$\d+\.\d+\.", status.content
    ), status.content
    assert labels(status) == ["Abbrechen"]
    previews = [v.content for v in shown if v.attachments and not v.embeds]
    assert previews == ["🎨 Zeichne… Vorschau 1 von 2", "🎨 Zeichne… Vorschau 2 von 2"]

    final = shown[-1]
    [embed] = final.embeds
    assert embed["description"] == (
        "**Prompt**\neine Katze mit Schal\n\n**Überarbeiteter Prompt**\nEine gemütliche Katze"
    )
    assert re.fullmatch(r"Kosten: \$\d+\.\d+\.", embed["footer"]["text"]), embed["footer"]["text"]
    assert labels(final) == ["Bearbeiten", "Neu würfeln"]
    [hint] = [m for m in fd.messages.values() if m.channel_id == reply.id and m.author_id != fd.user_id]
    assert hint.content == ("Nutze **/edit** in diesem Thread, um das Bild weiter zu verfeinern. Jede Bearbeitung baut "
                            "auf dem letzten Ergebnis auf.")

    # Pressing Edit asks in German too.
    turn = await running.store.turn_for_interaction(draw.id)
    assert turn is not None
    press = await fd.invoke_component(reply.id, f"tp:edit:{turn.id}", locale="de")
    await running.tracker.wait_any(press.id)
    assert press.modal is not None and press.modal["title"] == "Dieses Bild bearbeiten"
    [[field]] = [row["components"] for row in press.modal["components"]]
    assert field["label"] == "Was soll sich ändern?"
    assert field["placeholder"] == "z. B. lass es wie ein Aquarell aussehen"

    # OpenAI refuses the next edit: the explanation is German, with OpenAI's categories kept as they are.
    harness.openai.add_fault(Fault.moderation_400(categories=("violence",), stage="input"))
    edit = await harness.command(running, "edit", {"instruction": "mach es düster"}, channel_id=reply.id,
                                 locale="de")
    assert fd.messages[edit.original_message_id].content == (
        "❌ Deine Anfrage wurde vom Sicherheitssystem von OpenAI blockiert (dein Prompt; Kategorien: violence). "
        "Versuch es anders zu formulieren."
    )


async def test_a_german_members_own_mistake_is_explained_privately_in_german(harness: Harness) -> None:
    running = await harness.start_bot()
    wrong = await harness.command(
        running, "draw", {"prompt": "ein Geist", "background": "transparent", "format": "jpeg"}, locale="de"
    )
    assert wrong.ephemeral
    assert harness.discord.messages[wrong.original_message_id].content == (
        "Ein transparenter Hintergrund braucht das Format png oder webp (JPEG kennt keine Transparenz)."
    )
    # The same mistake from a member whose Discord runs in a language without a catalogue: English.
    korean = await harness.command(
        running, "draw", {"prompt": "a ghost", "background": "transparent", "format": "jpeg"}, locale="ko"
    )
    assert harness.discord.messages[korean.original_message_id].content == (
        "A transparent background needs format png or webp (JPEG has no transparency)."
    )


async def test_usage_reads_in_the_members_language(harness: Harness) -> None:
    running = await harness.start_bot()
    usage = await harness.command(running, "usage", locale="ja")
    [embed] = harness.discord.messages[usage.original_message_id].embeds
    assert embed["title"] == "あなたの画像の費用"
    month = running.bot.clock()
    assert [f["name"] for f in embed["fields"]][:2] == ["今日", f"{month.year}年{month.month}月"]


async def test_synced_commands_carry_names_and_descriptions_in_every_shipped_language(harness: Harness) -> None:
    await harness.start_bot(DEV_GUILD_ID=str(harness.discord.guild_id))
    commands = {c["name"]: c for c in harness.discord.synced_commands[harness.discord.guild_id]}
    slash = [c for c in commands.values() if c["type"] == 1]
    assert {"draw", "edit", "usage", "history", "forget", "threadpaint"} <= {c["name"] for c in slash}
    for command in slash:
        assert set(command.get("description_localizations") or {}) == SYNCED_LOCALES, command["name"]
        if command["name"] != "threadpaint":  # the bot's own name reads the same everywhere
            assert set(command.get("name_localizations") or {}) == SYNCED_LOCALES, command["name"]
    draw = commands["draw"]
    assert draw["name_localizations"] == {"de": "zeichnen", "es-ES": "dibujar", "es-419": "dibujar", "fr": "dessiner",
                                          "ja": "描く", "pt-BR": "desenhar"}
    assert draw["description_localizations"]["de"] == "Zeichne ein neues Bild nach einer Beschreibung"
    options = {o["name"]: o for o in draw["options"]}
    assert options["size"]["name_localizations"]["fr"] == "taille"
    assert options["size"]["description_localizations"]["ja"].startswith("幅 x 高さ")
    quality = {c["value"]: c for c in options["quality"]["choices"]}
    assert quality["high"]["name_localizations"] == {"de": "hoch", "es-ES": "alta", "es-419": "alta", "fr": "haute",
                                                     "ja": "高", "pt-BR": "alta"}
    menu = commands["Edit image"]
    assert menu["name_localizations"]["de"] == "Bild bearbeiten"


async def test_settings_replies_and_forget_answer_in_the_members_language(harness: Harness) -> None:
    fd = harness.discord
    running = await harness.start_bot(BUDGET_USER_DAILY_USD="0.05")
    admin = await harness.command(
        running, "threadpaint", {"scope": "member", "period": "daily", "dollars": "5000"},
        subcommand="settings budget", locale="es-ES",
    )
    lines = fd.messages[admin.original_message_id].content.splitlines()
    assert lines[0] == "✅ Presupuesto diario por miembro guardado."
    assert "**Canales:** todos los canales" in lines
    assert any(line.startswith("**Presupuesto por miembro:** $0.050 al día (el límite del bot; los $5,000.00 de este "
                               "servidor no lo pueden subir), ") for line in lines), lines

    forget = await fd.invoke_slash("forget", locale="fr")
    await fd.wait_for(lambda: forget.original_message_id is not None, what="the /forget question")
    question = fd.messages[forget.original_message_id]  # type: ignore[index]
    assert question.content.startswith("**M'oublier ?** Cela supprime ce que j'ai enregistré sur toi")
    assert labels(question) == ["M'oublier", "Annuler"]
    await fd.invoke_component(question.id, "forget:cancel", locale="fr")
    await running.tracker.wait(forget.id)
    assert question.content == "Annulé. Rien n'a été supprimé."


async def test_a_german_draw_with_count_shows_a_german_grid_and_german_buttons(harness: Harness) -> None:
    fd = harness.discord
    running = await harness.start_bot()
    for colour in PARTIALS:
        harness.openai.queue_script(ImageScript(final_color=colour, event_delay=0.01))

    draw = await harness.command(running, "draw", {"prompt": "ein Leuchtturm", "quality": "low", "count": 2},
                                 locale="de")

    grid = fd.messages[draw.original_message_id]
    drawn = [v for v in grid.versions() if v.attachments]
    running_grid = drawn[0]
    assert re.fullmatch(r"🎨 Zeichne 2 Varianten… das dauert meist 20–60 Sekunden\. Geschätzte Kosten: höchstens "
                        r"\$\d+\.\d+ für alle zusammen\.", running_grid.content), running_grid.content
    assert labels(running_grid) == ["Abbrechen"]
    lines = grid.content.split("\n")
    assert lines[:2] == ["**2 Varianten von:** ein Leuchtturm",
                         "Drücke bei einer auf **Verwenden**, um mit ihr weiterzumachen; **Neu würfeln** erstellt "
                         "sie noch einmal."]
    notes = [re.fullmatch(r"\*\*(\d):\*\* Kosten: \$\d+\.\d+\.", line) for line in lines[2:]]
    assert [note[1] if note else line for note, line in zip(notes, lines[2:], strict=True)] == ["1", "2"]
    assert labels(grid) == ["Nr. 1 verwenden", "Nr. 2 verwenden", "Nr. 1 neu würfeln", "Nr. 2 neu würfeln"]
    [hint] = [m for m in fd.messages.values() if m.channel_id == grid.id and m.author_id != fd.user_id]
    assert hint.content == ("Drücke unter dem Raster auf **Verwenden**, um eine Variante auszuwählen: Sie wird hier in "
                            "voller Größe gepostet, und **/edit** in diesem Thread macht mit ihr weiter.")

    # Use answers in German, and the image it posts carries German buttons.
    [first, _] = sorted(await running.store.variation_turns(draw.id), key=lambda t: t.variation_index or 0)
    use = await fd.invoke_component(grid.id, f"tp:use:{first.id}", locale="de")
    await running.tracker.wait_any(use.id)
    assert use.ephemeral and use.original_message_id is not None
    assert fd.messages[use.original_message_id].content == (
        f"Variante 1 ist jetzt das Bild, mit dem **/edit** in <#{grid.id}> weitermacht."
    )
    [posted] = [m for m in fd.messages.values() if m.channel_id == grid.id and m.attachments]
    assert labels(posted) == ["Bearbeiten", "Neu würfeln"]
    assert posted.embeds[0]["description"] == (
        "**Prompt**\nein Leuchtturm\n\n**Überarbeiteter Prompt**\nA detailed rendering of: ein Leuchtturm"
    )


async def test_blocked_words_and_their_setting_read_german_for_a_german_member(harness: Harness) -> None:
    running = await harness.start_bot()
    added = await harness.command(running, "threadpaint", {"action": "add", "word": "Sturm*"},
                                  subcommand="settings words", locale="de")
    assert added.ephemeral
    lines = harness.discord.messages[added.original_message_id].content.splitlines()
    assert lines[0] == ("✅ Gesperrt: **sturm\\***. Prompts und Anweisungen, die es verwenden, werden abgelehnt, "
                        "bevor etwas bezahlt wird.")
    assert "**Gesperrte Wörter:** 1 Regel (`/threadpaint settings words action:list` zeigt sie)" in lines
    assert "**Spoiler:** aus" in lines and "**Log-Kanal:** aus" in lines

    draw = await harness.command(running, "draw", {"prompt": "ein STURMTIEF über dem Meer"}, locale="de")
    assert draw.ephemeral
    assert harness.discord.messages[draw.original_message_id].content == (
        "Dein Prompt enthält ein Wort, das dieser Server gesperrt hat (Regel: **sturm\\***), daher zeichne ich ihn "
        "nicht. Es wurde nichts berechnet."
    )
    assert not [r for r in harness.openai.requests if r.path == "/v1/responses"]  # refused before anything was paid


async def test_log_channel_posts_read_in_the_servers_language_not_the_members(harness: Harness) -> None:
    fd = harness.discord
    fd.preferred_locale = "de"  # a German server; the member below writes in English
    logs = add_text_channel(harness, "bot-log")
    running = await harness.start_bot()
    running.bot.log_channel.sleep = Pace()  # no real pause between posts
    await harness.command(running, "threadpaint", {"channel": channel_option(logs)}, subcommand="settings log")
    await harness.command(running, "threadpaint", {"action": "add", "word": "storm"}, subcommand="settings words")

    draw = await harness.command(running, "draw", {"prompt": "a storm"}, locale="en-US")
    assert harness.discord.messages[draw.original_message_id].content.startswith("Your prompt contains a word")
    await asyncio.wait_for(running.bot.log_channel.wait_idle(), 10)
    [post] = [m for m in fd.messages.values() if m.channel_id == logs]
    assert post.content == (
        f"✋ <@{fd.user_id}> wurde in <#{fd.text_channel_id}> abgewiesen: Dein Prompt enthält ein Wort, das dieser "
        "Server gesperrt hat (Regel: **storm**), daher zeichne ich ihn nicht. Es wurde nichts berechnet.\n"
        "**Prompt:** a storm"
    )
