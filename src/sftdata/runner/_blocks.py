"""A JSONL file read in blocks of whole lines, each block's tables spilled to a folder that
a rerun picks up where a killed run stopped.

One file's folder (the input stage keeps one per input file)::

    block-000000.arrow          rows (Arrow IPC; its `_location` says file:line)
    block-000000.rejects.arrow  the block's bad lines (only when it has some)
    block-000000.json           {"first": 1, "offset": 0, "end": 16777002, "next": 7956,
                                 "size": ..., "block_bytes": ...}
    block-000001.arrow ...

Each file is written to a temp name and renamed, the ``.json`` last: a block counts as
finished only when its ``.json`` exists and continues the one before it (its first
line and byte offset are where that one ended) for the same file size and block size.
A rerun reuses the finished blocks in order and reads the file on from the byte
offset where they end, so the blocks (and the tables yielded) are exactly those of an
uninterrupted run: a block's bounds depend only on where it starts.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.ipc

from sftdata._contract import SftDataError
from sftdata.runner._jsonl import TYPE_ERRORS

#: ``parse(first line, block bytes) -> (rows, rejects)``; raises an Arrow error where the
#: block's types disagree.
Parse = Callable[[int, bytearray], tuple[pa.Table, pa.Table]]


def count_lines(data: bytes | bytearray) -> int:
    """``len(data.splitlines())`` without building the lines (``\\r\\n`` is one break)."""
    n = data.count(b"\n")
    if b"\r" in data:  # rare: counting "\r\n" is slow (no memchr)
        n += data.count(b"\r") - data.count(b"\r\n")
    return n + (1 if data and data[-1:] not in (b"\n", b"\r") else 0)


def line_blocks(
    path: Path, block_bytes: int, offset: int = 0, first: int = 1
) -> Iterator[tuple[int, int, bytearray]]:
    """``(first line number, byte offset, block)`` for blocks of about ``block_bytes``
    bytes of whole lines, from byte ``offset`` (where line ``first`` begins).

    A block is read into one buffer and cut after its last line break in place (no
    second copy); a line longer than ``block_bytes`` is a block of its own."""
    with open(path, "rb") as f:
        if b"\x00" in f.read(8192):
            raise SftDataError(f"{path}: looks like a binary file (NUL bytes); expected text")
        size = os.fstat(f.fileno()).st_size
        while offset < size:
            f.seek(offset)
            data = bytearray(min(block_bytes, size - offset))  # a small file: a small buffer
            del data[f.readinto(data) :]
            if not data:
                return
            if offset + len(data) < size:  # more follows: end after the last line break
                cut = data.rfind(b"\n") + 1
                if cut:
                    del data[cut:]
                else:  # one line longer than a block: read on to its end
                    data += f.readline()
            yield first, offset, data
            first += count_lines(data)
            offset += len(data)


class BlockSpill:
    """One input file's spilled blocks in ``folder``; ``read`` and ``reused`` count the
    blocks this process parsed and the ones it found finished."""

    def __init__(self, folder: Path, progress: Callable[[int], None] | None = None) -> None:
        self.folder = folder
        self.read = 0
        self.reused = 0
        self.progress = progress  # called with the bytes of each block parsed or reused

    def blocks(
        self, path: Path, key: dict[str, Any], parse: Parse
    ) -> Iterator[tuple[pa.Table, pa.Table]] | None:
        """Parse the blocks not yet finished, then give every block's tables in order; or
        ``None`` where the blocks' schemas do not unify (a whole read must type the file)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        done = self._finished(key)
        schemas = [self._schema(k) for k in range(len(done))]
        self.reused += len(done)
        offset, line = (done[-1]["end"], done[-1]["next"]) if done else (0, 1)
        if self.progress is not None and offset:
            self.progress(offset)
        k = len(done)
        for first, start, data in line_blocks(path, key["block_bytes"], offset, line):
            try:
                table, rejects = parse(first, data)
                schemas.append(table.schema)
                pa.unify_schemas(schemas, promote_options="permissive")
            except TYPE_ERRORS:
                return None
            end, nxt = start + len(data), first + count_lines(data)
            self._write(
                k, table, rejects, {**key, "first": first, "offset": start, "end": end, "next": nxt}
            )
            k += 1
            self.read += 1
            if self.progress is not None:
                self.progress(len(data))
            del table, rejects, data
            pa.default_memory_pool().release_unused()  # freed blocks back to the system
        return self._tables(k)

    def _name(self, k: int, suffix: str) -> Path:
        return self.folder / f"block-{k:06d}{suffix}"

    def _finished(self, key: dict[str, Any]) -> list[dict[str, Any]]:
        """The finished blocks' ``.json``, in order, while each continues the one before."""
        out: list[dict[str, Any]] = []
        offset, line = 0, 1
        while True:
            marker = self._name(len(out), ".json")
            try:
                meta = json.loads(marker.read_text())
            except (OSError, ValueError):
                return out
            same = all(meta.get(f) == v for f, v in key.items())
            if not same or meta["offset"] != offset or meta["first"] != line:
                return out
            if not self._name(len(out), ".arrow").exists():
                return out
            out.append(meta)
            offset, line = meta["end"], meta["next"]

    def _schema(self, k: int) -> pa.Schema:
        with pa.OSFile(str(self._name(k, ".arrow")), "rb") as source:
            return pa.ipc.open_file(source).schema

    def _write(self, k: int, table: pa.Table, rejects: pa.Table, meta: dict[str, Any]) -> None:
        if rejects.num_rows:
            _write_ipc(rejects, self._name(k, ".rejects.arrow"))
        _write_ipc(table, self._name(k, ".arrow"))
        _replace(self._name(k, ".json"), json.dumps(meta, sort_keys=True).encode())

    def _tables(self, n: int) -> Iterator[tuple[pa.Table, pa.Table]]:
        for k in range(n):
            bad = self._name(k, ".rejects.arrow")
            yield (
                _read_ipc(self._name(k, ".arrow")),
                (_read_ipc(bad) if bad.exists() else pa.table({})),
            )


def _tmp(path: Path) -> Path:
    return path.with_name(f".{path.name}.tmp-{os.getpid()}")


def _replace(path: Path, data: bytes) -> None:
    tmp = _tmp(path)
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _write_ipc(table: pa.Table, path: Path) -> None:
    """An Arrow IPC file, atomically (temp name, then rename); no fsync: a work file."""
    tmp = _tmp(path)
    with pa.OSFile(str(tmp), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)
    os.replace(tmp, path)


def _read_ipc(path: Path) -> pa.Table:
    """The table, its buffers mapped from the file (no copy; the pages stay the kernel's)."""
    with pa.memory_map(str(path), "r") as source:
        return pa.ipc.open_file(source).read_all()
