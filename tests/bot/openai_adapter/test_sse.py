"""The fast SSE decoder yields exactly the SDK decoder's events, however the bytes are split into chunks."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from openai._streaming import SSEDecoder

from bot.openai_adapter.sse import FastSSEDecoder, LineSplitter

STREAMS = [
    b"event: a\ndata: 1\n\nevent: b\ndata: 2\n\n",
    b"event: a\r\ndata: 1\r\n\r\ndata: x\rdata: y\r\r",
    b": comment\nid: 7\nretry: 100\ndata: first\ndata: second\n\n",
    b"data: unterminated",
    b"data: " + b"QUJD" * 5000 + b"\n\n" + b"data: tail\n\n",
    b"\r\n\r\n\n\r",
    b"data:no-space\n\ndata:  two spaces\n\n",
    b"data\n\nevent\n\nid\nretry\n\nid: a\x00b\ndata: x\n\nretry: nope\ndata: y\n\nunknown: z\n\n",
    b"id: keep\ndata: 1\n\ndata: 2\n\n:only a comment\n\nevent:\ndata:\n\nretry: 5\n\n",
    b"data: a\ndata: b\n\nevent: e\n\n",
    "data: caf\u00e9 \u2713\n\n".encode(),
]


def sdk_events(chunks: list[bytes]) -> list[tuple[object, ...]]:
    return [(e.event, e.data, e.id, e.retry) for e in SSEDecoder().iter_bytes(iter(chunks))]


def fast_events(chunks: list[bytes]) -> list[tuple[object, ...]]:
    return [(e.event, e.data, e.id, e.retry) for e in FastSSEDecoder().iter_bytes(iter(chunks))]


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    return [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True)]


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(STREAMS), st.lists(st.integers(min_value=0, max_value=30000), max_size=12))
def test_same_events_as_the_sdk_for_any_chunking(stream: bytes, cuts: list[int]) -> None:
    chunks = split(stream, cuts)
    assert fast_events(chunks) == sdk_events(chunks)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from([b"data: a", b"b", b"\r", b"\n", b"\r\n", b":", b"event: e", b"id: 1", b" "]),
                max_size=30),
       st.lists(st.integers(min_value=0, max_value=200), max_size=8))
def test_same_events_for_arbitrary_line_endings(pieces: list[bytes], cuts: list[int]) -> None:
    stream = b"".join(pieces)
    chunks = split(stream, cuts)
    assert fast_events(chunks) == sdk_events(chunks)


def test_a_cr_at_the_end_of_a_chunk_swallows_the_lf_starting_the_next() -> None:
    lines = LineSplitter()
    assert list(lines.feed(b"one\r")) == [b"one"]
    assert list(lines.feed(b"\ntwo\n")) == [b"two"]
    assert list(lines.finish()) == []


async def test_async_decoding_matches() -> None:
    async def chunks():
        for chunk in split(STREAMS[4], [3, 100, 20000]):
            yield chunk

    events = [(e.event, e.data) async for e in FastSSEDecoder().aiter_bytes(chunks())]
    assert events == [(None, "QUJD" * 5000), (None, "tail")]
