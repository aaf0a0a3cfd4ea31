"""An image is uploaded to Discord without a whole copy of it being made first (issue 16).

discord.py hands each file's stream to aiohttp's multipart writer, whose BytesIO payload asks the stream for its
buffer to learn the length: on a plain BytesIO that copies the image, 2 MB more for every upload in flight.
"""

from __future__ import annotations

import gc
import os
import tracemalloc
import weakref

import aiohttp

from bot.discord_adapter.reply import Upload

IMAGE_BYTES = 2_000_000
MB = 1_000_000


class Collect:
    """The connection's writer, as aiohttp's multipart body sees it."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []

    async def write(self, chunk: bytes | bytearray | memoryview) -> None:
        self.chunks.append(bytes(chunk))


def multipart(upload: Upload) -> aiohttp.MultipartWriter:
    # As discord.py's http module builds a request with files: the File's stream is the form field's value.
    file = upload.file()
    form = aiohttp.FormData()
    form.add_field("payload_json", "{}")
    form.add_field("files[0]", file.fp, filename=file.filename, content_type="application/octet-stream")
    body = form()
    assert isinstance(body, aiohttp.MultipartWriter)
    return body


async def test_an_upload_does_not_copy_the_image_and_sends_it_exactly() -> None:
    image = os.urandom(IMAGE_BYTES)
    upload = Upload("result.png", image)
    tracemalloc.start()
    try:
        baseline = tracemalloc.get_traced_memory()[0]
        body = multipart(upload)
        held = tracemalloc.get_traced_memory()[0] - baseline
    finally:
        tracemalloc.stop()
    assert held < 0.25 * MB, f"preparing the upload allocated {held / MB:.2f} MB for a {IMAGE_BYTES / MB:g} MB image"
    sent = Collect()
    await body.write(sent)  # type: ignore[arg-type]
    data = b"".join(sent.chunks)
    assert data.count(image) == 1
    assert body.size == len(data)  # the length aiohttp announces is what it sends


async def test_an_upload_can_be_sent_again() -> None:
    # A request discord.py retries, or the reply's fallback route, uploads the same image once more.
    image = os.urandom(100_000)
    upload = Upload("result.png", image)
    for _ in range(2):
        sent = Collect()
        await multipart(upload).write(sent)  # type: ignore[arg-type]
        assert b"".join(sent.chunks).count(image) == 1


def test_an_uploaded_image_is_freed_as_soon_as_discord_py_is_done_with_it() -> None:
    # discord.py stubs the stream's `close` for the request and puts it back in File.close(); the stream must not
    # be left in a reference cycle, which would keep the image until the next full garbage collection.
    image = os.urandom(100_000)
    gc.disable()
    try:
        file = Upload("result.png", image).file()
        file.close()  # what discord.py does once the request is over
        stream = weakref.ref(file.fp)
        del file
        assert stream() is None, "the uploaded stream (and its image) outlived its request"
    finally:
        gc.enable()
