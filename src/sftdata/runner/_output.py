"""Write the final output, the rejects, the report and (for pretraining) token shards.

An output folder looks like this; ``manifest.json`` is written last, so a folder
without it (or with parts it does not list) is an unfinished write::

    out/sft/
      part-00000.parquet      rows 0 .. shard_rows-1
      part-00001.parquet
      manifest.json           {"rows": ..., "files": [{"name", "rows", "sha256"}], "counters": ...}
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import shutil
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from sftdata._contract import DROP_REASON, SftDataError
from sftdata._rejects import LOCATION, REJECT_COLUMNS, ROW_LOCATION, Counters
from sftdata.engines._local import slices
from sftdata.runner import _parts as parts
from sftdata.runner._io import REJECTED_BY, atomic_write_bytes, write_table_file
from sftdata.runner._spec import OutputSpec, PipelineSpec

_EXT = {"parquet": "parquet", "jsonl": "jsonl"}


def _clear_stale(folder: Path) -> None:
    for p in folder.glob("part-*"):
        p.unlink()
    (folder / "manifest.json").unlink(missing_ok=True)


def write_dataset(table: pa.Table, out: OutputSpec, extra: dict[str, Any]) -> list[Path]:
    """Write ``table`` as shards (or a HF dataset folder) plus ``manifest.json``."""
    if out.format == "hf":
        return [_write_hf([table], out.path)]
    return write_shards(slices(table, out.shard_rows), out, extra)


def write_shards(pieces: Iterable[pa.Table], out: OutputSpec, extra: dict[str, Any]) -> list[Path]:
    """Write each piece (``out.shard_rows`` rows) as one shard, then ``manifest.json``."""
    if out.format == "hf":
        return [_write_hf(pieces, out.path)]
    out.path.mkdir(parents=True, exist_ok=True)
    _clear_stale(out.path)
    files, entries, rows = [], [], 0
    for i, piece in enumerate(pieces):
        name = f"part-{i:05d}.{_EXT[out.format]}"
        digest = write_table_file(piece, out.path / name, out.format, durable=True)
        files.append(out.path / name)
        rows += piece.num_rows
        entries.append({"name": name, "rows": piece.num_rows, "sha256": digest})
    manifest = {"format": out.format, "rows": rows, "files": entries, **extra}
    atomic_write_bytes(out.path / "manifest.json", json.dumps(manifest, indent=2).encode())
    return files


def _write_hf(pieces: Iterable[pa.Table], path: Path) -> Path:
    """Save the pieces, in order, as one ``datasets`` folder (``load_from_disk`` reads it).

    The pieces stream into one Arrow file next to ``path`` (the schema of the first piece;
    ``datasets`` reads such a file memory-mapped), which ``save_to_disk`` then lays out
    as it would an in-memory table. So no more than one piece is held in memory, at the
    cost of writing the rows twice. The saved fingerprint is a hash of that file, so the
    same rows give the same folder, byte for byte.
    """
    import datasets

    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    rows = path.with_name(f".{path.name}.rows-{os.getpid()}.arrow")
    shutil.rmtree(tmp, ignore_errors=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    _write_arrow_stream(pieces, rows)
    try:
        mapped = datasets.Dataset.from_file(str(rows)).data
        datasets.Dataset(mapped, fingerprint=_file_hash(rows)).save_to_disk(str(tmp))
        del mapped
    finally:
        rows.unlink(missing_ok=True)
    old = path.with_name(f".{path.name}.old-{os.getpid()}")
    if path.exists():
        os.replace(path, old)
    os.replace(tmp, path)
    shutil.rmtree(old, ignore_errors=True)
    return path


def _write_arrow_stream(pieces: Iterable[pa.Table], path: Path) -> None:
    """Write ``pieces`` as one Arrow IPC stream (the format ``datasets`` maps from disk)."""
    it = iter(pieces)
    first = next(it, None)
    if first is None:
        raise SftDataError(f"no table to write to {path}")
    schema = first.schema
    rows = 0
    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_stream(sink, schema) as writer:
        for piece in itertools.chain([first], it):
            writer.write_table(piece if piece.schema.equals(schema) else piece.cast(schema))
            rows += piece.num_rows
        if not rows:  # `datasets` cannot map a stream without a single batch
            writer.write_batch(pa.RecordBatch.from_pylist([], schema=schema))


def _file_hash(path: Path) -> str:
    """The first 16 hex digits of ``path``'s sha256, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:16]


def _step_table(per_step: list[tuple[str, Counters]]) -> str:
    lines = ["| step | rows in | kept | dropped | reasons |", "|---|---:|---:|---:|---|"]
    for name, c in per_step:
        reasons = ", ".join(f"{r}: {n}" for r, n in sorted(c.dropped.items()))
        lines.append(f"| {name} | {c.rows_in} | {c.kept} | {c.rejected} | {reasons} |")
    return "\n".join(lines)


def _write_report(
    folder: Path,
    kept_parts: Callable[[], Iterator[pa.Table]],
    schema: pa.Schema,
    total: Counters,
    per_step: list[tuple[str, Counters]],
) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    counts = {"total": total.to_dict(), "steps": [{"step": n, **c.to_dict()} for n, c in per_step]}
    atomic_write_bytes(folder / "counters.json", json.dumps(counts, indent=2).encode())
    md = ["# Pipeline report", "", _step_table(per_step), ""]
    try:
        import sftdata.stats as stats
    except ImportError:
        stats = None  # type: ignore[assignment]
    names = set(schema.names)
    readable = {"text", "messages"} & names or {"prompt", "chosen", "rejected"} <= names
    if stats is not None and hasattr(stats, "measure") and total.kept and readable:
        # one part in memory at a time: each part's counters, added up, make the report
        rep = stats.merge(stats.measure(t) for t in kept_parts()).report()
        atomic_write_bytes(
            folder / "stats.json", json.dumps(rep.to_dict(), indent=2, default=str).encode()
        )
        md += ["## Output statistics", "", rep.to_markdown()]
        rep.save_plots(str(folder))
    atomic_write_bytes(folder / "report.md", "\n".join(md).encode())


def write_outputs(
    spec: PipelineSpec,
    folders: list[Path],
    total: Counters,
    per_step: list[tuple[str, Counters]],
) -> tuple[list[Path], list[Path]]:
    """Write output, rejects, report and token shards from the finished stages ``folders``
    (the last one's kept rows, every one's rejected rows), part by part."""
    last = folders[-1]
    schema = parts.stage_schema(last)
    helpers = [c for c in (DROP_REASON, REJECTED_BY, ROW_LOCATION) if c in schema.names]
    # no schema metadata in outputs: a global pass run by `datasets` leaves its fingerprint
    out_schema = pa.schema([f for f in schema if f.name not in helpers])

    def kept() -> Iterator[pa.Table]:
        for t in parts.iter_kept(last, schema):
            yield t.drop_columns(helpers).replace_schema_metadata(None)

    extra = {"counters": total.to_dict(), "steps": [[n, c.to_dict()] for n, c in per_step]}
    out = spec.output
    out_files = write_shards(parts.windows(kept(), out.shard_rows, out_schema), out, extra)
    rej_files: list[Path] = []
    if spec.rejects is not None:
        # every rejected row in the one rejects format, all parts on one schema
        rej_schema = parts.unified_schema(
            rejects_table(s.empty_table()).schema
            for f in folders
            for s in parts.rejected_schemas(f)
        ).remove_metadata()
        rejected = (
            rejects_table(t).replace_schema_metadata(None)
            for f in folders
            for t in parts.iter_rejected(f)
        )
        pieces = parts.windows(rejected, spec.rejects.shard_rows, rej_schema)
        rej_files = write_shards(pieces, spec.rejects, {"counters": total.to_dict()})
    if spec.report is not None:
        _write_report(spec.report, kept, out_schema, total, per_step)
    if spec.tokenize is not None:
        _tokenize(spec, kept, out_schema)
    return out_files, rej_files


def rejects_table(rejects: pa.Table) -> pa.Table:
    """Rejected rows in the one rejects format (see :func:`sftdata._rejects.rejects_row`):
    ``drop_reason, rejected_by, source, location, raw`` first (null where unknown), then
    the rows' own columns; ``location`` is the input line a row was read from."""
    n = rejects.num_rows
    if ROW_LOCATION in rejects.column_names:
        carried = rejects.column(ROW_LOCATION)
        if LOCATION in rejects.column_names:  # an input reject's own location comes first
            carried = pc.coalesce(rejects.column(LOCATION), carried)
        rejects = rejects.drop_columns(
            [c for c in (LOCATION, ROW_LOCATION) if c in rejects.column_names]
        )
        rejects = rejects.append_column(LOCATION, carried.cast(pa.string()))
    for name in REJECT_COLUMNS:
        if name not in rejects.column_names:
            rejects = rejects.append_column(name, pa.nulls(n, pa.string()))
    rest = [c for c in rejects.column_names if c not in REJECT_COLUMNS]
    return rejects.select([*REJECT_COLUMNS, *rest])


def _tokenize(
    spec: PipelineSpec, kept: Callable[[], Iterator[pa.Table]], schema: pa.Schema
) -> None:
    from sftdata import tokenize as tk
    from sftdata._contract import SftDataError

    t = spec.tokenize
    assert t is not None
    if t.text_column not in schema.names:
        raise SftDataError(f"tokenize.text_column {t.text_column!r} is not an output column")

    def texts() -> Iterator[Any]:
        for table in kept():
            yield from table.column(t.text_column).to_pylist()

    if t.train is not None:
        opts = dict(t.train)
        tokenizer = tk.train_tokenizer(
            texts(), opts.pop("vocab_size"), **opts, out_dir=t.path / "tokenizer"
        )
    else:
        tokenizer = tk.load_tokenizer(t.tokenizer)  # type: ignore[arg-type]
    tk.tokenize_corpus(
        texts(),
        tokenizer,
        block_size=t.block_size,
        out_dir=t.path,
        respect_documents=t.respect_documents,
    )
