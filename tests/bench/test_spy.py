"""bench.spy: a py-spy raw profile summarised as the bot's busy time, without waits, imports and the bench."""

from __future__ import annotations

from bench.spy import summarize

MAIN = "main (bench/__main__.py:64);Handle._run (asyncio/events.py:80)"
JOB = "ImageService._job (bot/core/service.py:260)"
PROFILE = f"""\
{MAIN};{JOB};translate (bot/core/stream.py:40) 30
{MAIN};{JOB};translate (bot/core/stream.py:52) 10
{MAIN};Reply.edit (bot/discord_adapter/reply.py:90) 10
main (bench/__main__.py:64);BaseEventLoop._run_once (asyncio/base_events.py:1845);EpollSelector.select (x:1) 500
{MAIN};Bench.floor (bench/runner.py:210);floor_generation (bench/floor.py:41) 70
main (bench/__main__.py:64);_find_and_load (<frozen importlib._bootstrap>:1176);<module> (openai/__init__.py:1) 90
Thread.run (threading.py:975);_worker (concurrent/futures/thread.py:81) 300
"""


def test_shares_are_of_the_bots_busy_samples_only() -> None:
    text = summarize(PROFILE.splitlines())
    assert text.splitlines()[0] == "50 busy samples"
    rows = [line for line in text.splitlines() if line.startswith("| ") and "`" in line]
    assert rows == [
        "| 80.0% |  0.0% | `ImageService._job (bot/core/service.py)` |",
        "| 80.0% | 80.0% | `translate (bot/core/stream.py)` |",
        "| 20.0% | 20.0% | `Reply.edit (bot/discord_adapter/reply.py)` |",
    ]


def test_no_busy_samples_says_so() -> None:
    assert summarize(["main (bench/__main__.py:64);EpollSelector.select (selectors.py:468) 5"]) == "no busy samples"
