"""Finished images waiting to be posted, one file each in a private folder beside the SQLite database.

A 2 MB image as a BLOB cost the outbox's thread about 9 ms of CPU: SQLite wrote it page by page into the WAL
(a checksum and a write per 4 KB page), then the checkpoint copied every page again into the database file; as a
file it is one write and, once posted, one unlink (about 0.5 ms). SQLite's own guidance agrees for BLOBs this big
("Internal Versus External BLOBs"). The outbox row stays the record that an image waits (its `image` is NULL);
the rules that keep row and file in step are in OutboxWriter (bot.storage.sqlite_outbox):

- a file is written (to a temporary name, then renamed) inside the transaction that adds its row, under the
  database's write lock, so a committed row always has its file;
- a file goes only after its row's deletion is committed;
- a file without a row (a crash mid-transaction, or rows deleted with their turns by /forget and retention) is
  swept under the same write lock, so no write is ever half-way while the folder is compared with the rows.

Like the database, the files are durable against a crash of the bot, not against a power cut (synchronous=NORMAL).
Every call here blocks; the outbox's thread makes them.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Collection, Iterable
from pathlib import Path

_SUFFIX = ".image"
_PARTIAL = ".part"


class ImageFiles:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    @classmethod
    def beside(cls, database: Path) -> ImageFiles:
        """The folder `<database file name>-images` next to the database, created private (0700) if new."""
        files = cls(database.with_name(database.name + "-images"))
        if not files.folder.exists():
            files.folder.mkdir(mode=0o700, exist_ok=True)
        if files.folder.stat().st_mode & 0o077:  # it holds members' images: as private as the database
            files.folder.chmod(0o700)
        return files

    def path(self, turn_id: int) -> Path:
        return self.folder / f"{int(turn_id)}{_SUFFIX}"

    def put(self, turn_id: int, image: bytes) -> None:
        """Write the image whole under a temporary name, then rename it: the file is never seen half-written."""
        partial = self.folder / f"{int(turn_id)}.{uuid.uuid4().hex}{_PARTIAL}"
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with open(fd, "wb", closefd=True) as file:
                file.write(image)
            os.replace(partial, self.path(turn_id))
        except BaseException:
            with contextlib.suppress(OSError):
                partial.unlink()
            raise

    def get(self, turn_id: int) -> bytes | None:
        try:
            return self.path(turn_id).read_bytes()
        except FileNotFoundError:
            return None

    def remove(self, turn_ids: Iterable[int]) -> None:
        for turn_id in turn_ids:
            self.path(turn_id).unlink(missing_ok=True)

    def sweep(self, keep: Collection[int]) -> int:
        """Delete every file whose turn is not in `keep` (and any leftover temporary file); return how many."""
        removed = 0
        for entry in os.scandir(self.folder):
            name = entry.name
            stem = name.removesuffix(_SUFFIX)
            orphan = name.endswith(_PARTIAL) or (name.endswith(_SUFFIX) and stem.isdigit() and int(stem) not in keep)
            if orphan:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(entry.path)
                    removed += 1
        return removed
