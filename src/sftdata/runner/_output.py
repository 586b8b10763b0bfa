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
import json
import os
import shutil
from pathlib import Path
from typing import Any

import pyarrow as pa

from sftdata._contract import DROP_REASON
from sftdata._rejects import Counters
from sftdata.engines._local import slices
from sftdata.runner._io import REJECTED_BY, atomic_write_bytes, table_bytes
from sftdata.runner._spec import OutputSpec, PipelineSpec

_EXT = {"parquet": "parquet", "jsonl": "jsonl"}


def _clear_stale(folder: Path) -> None:
    for p in folder.glob("part-*"):
        p.unlink()
    (folder / "manifest.json").unlink(missing_ok=True)


def write_dataset(table: pa.Table, out: OutputSpec, extra: dict[str, Any]) -> list[Path]:
    """Write ``table`` as shards (or a HF dataset folder) plus ``manifest.json``."""
    if out.format == "hf":
        return [_write_hf(table, out.path)]
    out.path.mkdir(parents=True, exist_ok=True)
    _clear_stale(out.path)
    files, entries = [], []
    for i, piece in enumerate(slices(table, out.shard_rows)):
        name = f"part-{i:05d}.{_EXT[out.format]}"
        data = table_bytes(piece, out.format)
        atomic_write_bytes(out.path / name, data)
        files.append(out.path / name)
        entries.append(
            {"name": name, "rows": piece.num_rows, "sha256": hashlib.sha256(data).hexdigest()}
        )
    manifest = {"format": out.format, "rows": table.num_rows, "files": entries, **extra}
    atomic_write_bytes(out.path / "manifest.json", json.dumps(manifest, indent=2).encode())
    return files


def _write_hf(table: pa.Table, path: Path) -> Path:
    import datasets

    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    datasets.Dataset(table).save_to_disk(str(tmp))
    old = path.with_name(f".{path.name}.old-{os.getpid()}")
    if path.exists():
        os.replace(path, old)
    os.replace(tmp, path)
    shutil.rmtree(old, ignore_errors=True)
    return path


def _step_table(per_step: list[tuple[str, Counters]]) -> str:
    lines = ["| step | rows in | kept | dropped | reasons |", "|---|---:|---:|---:|---|"]
    for name, c in per_step:
        reasons = ", ".join(f"{r}: {n}" for r, n in sorted(c.dropped.items()))
        lines.append(f"| {name} | {c.rows_in} | {c.kept} | {c.rejected} | {reasons} |")
    return "\n".join(lines)


def _write_report(
    folder: Path, kept: pa.Table, total: Counters, per_step: list[tuple[str, Counters]]
) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    counts = {"total": total.to_dict(), "steps": [{"step": n, **c.to_dict()} for n, c in per_step]}
    atomic_write_bytes(folder / "counters.json", json.dumps(counts, indent=2).encode())
    md = ["# Pipeline report", "", _step_table(per_step), ""]
    try:
        import sftdata.stats as stats
    except ImportError:
        stats = None  # type: ignore[assignment]
    names = set(kept.column_names)
    readable = {"text", "messages"} & names or {"prompt", "chosen", "rejected"} <= names
    if stats is not None and hasattr(stats, "report") and kept.num_rows and readable:
        import datasets

        rep = stats.report(datasets.Dataset(kept))
        atomic_write_bytes(
            folder / "stats.json", json.dumps(rep.to_dict(), indent=2, default=str).encode()
        )
        md += ["## Output statistics", "", rep.to_markdown()]
        rep.save_plots(str(folder))
    atomic_write_bytes(folder / "report.md", "\n".join(md).encode())


def write_outputs(
    spec: PipelineSpec,
    kept: pa.Table,
    rejects: pa.Table,
    total: Counters,
    per_step: list[tuple[str, Counters]],
) -> tuple[list[Path], list[Path]]:
    """Write output, rejects, report and token shards; return the output and rejects files."""
    helpers = [c for c in (DROP_REASON, REJECTED_BY) if c in kept.column_names]
    kept = kept.drop_columns(helpers)
    extra = {"counters": total.to_dict(), "steps": [[n, c.to_dict()] for n, c in per_step]}
    out_files = write_dataset(kept, spec.output, extra)
    rej_files: list[Path] = []
    if spec.rejects is not None:
        rej_files = write_dataset(rejects, spec.rejects, {"counters": total.to_dict()})
    if spec.report is not None:
        _write_report(spec.report, kept, total, per_step)
    if spec.tokenize is not None:
        _tokenize(spec, kept)
    return out_files, rej_files


def _tokenize(spec: PipelineSpec, kept: pa.Table) -> None:
    from sftdata import tokenize as tk
    from sftdata._contract import SftDataError

    t = spec.tokenize
    assert t is not None
    if t.text_column not in kept.column_names:
        raise SftDataError(f"tokenize.text_column {t.text_column!r} is not an output column")
    texts = kept.column(t.text_column).to_pylist()
    if t.train is not None:
        opts = dict(t.train)
        tokenizer = tk.train_tokenizer(
            texts, opts.pop("vocab_size"), **opts, out_dir=t.path / "tokenizer"
        )
    else:
        tokenizer = tk.load_tokenizer(t.tokenizer)  # type: ignore[arg-type]
    tk.tokenize_corpus(
        texts,
        tokenizer,
        block_size=t.block_size,
        out_dir=t.path,
        respect_documents=t.respect_documents,
    )
