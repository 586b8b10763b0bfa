"""Execute a plan: read inputs, run stages (resumably), write outputs atomically.

The work folder holds one folder per finished piece of work::

    .out.work/
      00-input-<key>/  part-00000.parquet ... rejects.parquet _DONE.json
                       blocks/  (JSONL blocks read so far; gone once _DONE.json is)
      01-map-<key>/    part-00000.parquet part-00001.parquet ... _DONE.json
      02-global-<key>/ part-00000.parquet rejects.parquet _DONE.json   (whole-table pass)
      03-global-<key>/ part-00000.parquet rejects-00000.parquet ... .pass1/ _DONE.json
                                                        (streamed dedup: per window)

Every file is written to a temp name and renamed, and a stage counts as finished only
when its ``_DONE.json`` exists, so a killed run leaves nothing that looks complete.
A rerun reuses finished stages and, inside a map stage, finished parts; inside the
input stage, the JSONL blocks already parsed.
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import os
import shutil
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa
import pyarrow.parquet as pq

from sftdata._contract import DROP_REASON
from sftdata._rejects import Counters
from sftdata.engines._local import concat, local_global, map_table, slices
from sftdata.runner import _parts as parts
from sftdata.runner._apply import TrackedSteps
from sftdata.runner._blocks import BlockSpill
from sftdata.runner._global_stream import remove_work, run_streamed, streamable
from sftdata.runner._io import (
    REJECTED_BY,
    atomic_write_bytes,
    iter_input,
    write_table_atomic,
)
from sftdata.runner._output import write_outputs
from sftdata.runner._plan import Plan, Stage, stage_dir_name
from sftdata.runner._spec import InputSpec

Engine = Literal["local", "ray"]


@dataclass
class RunResult:
    """What a run did: counts per step, files written, work reused."""

    counters: Counters
    per_step: list[tuple[str, Counters]]
    output_files: list[Path]
    rejects_files: list[Path]
    reused: list[str] = field(default_factory=list)
    timings: list[tuple[str, int, float]] = field(default_factory=list)

    def speed_table(self) -> str:
        """Rows in, seconds and rows/s of every stage this run computed."""
        lines = []
        for label, rows, secs in self.timings:
            rate = f"{rows / secs:,.0f} rows/s" if secs > 0 else "-"
            lines.append(f"{label}: {rows} rows in {secs:.2f} s ({rate})")
        return "\n".join(lines)

    def table(self) -> str:
        """Counts per step and reason, as a plain-text table."""
        rows = [("step", "rows in", "kept", "dropped", "reason")]
        for name, c in self.per_step:
            reasons = sorted(c.dropped.items()) or [("", 0)]
            for j, (reason, n) in enumerate(reasons):
                head = (name, str(c.rows_in), str(c.kept)) if j == 0 else ("", "", "")
                rows.append((*head, str(n) if reason else "0", reason))
        t = self.counters
        rows.append(("TOTAL", str(t.rows_in), str(t.kept), str(t.rejected), ""))
        widths = [max(len(r[i]) for r in rows) for i in range(5)]
        return "\n".join(
            "  ".join(
                c.ljust(w) if i in (0, 4) else c.rjust(w)
                for i, (c, w) in enumerate(zip(r, widths, strict=True))
            ).rstrip()
            for r in rows
        )


class _Bar:
    """A tqdm bar over rows (with its rate and ETA) that also shows the bytes (Arrow
    memory of the rows) done so far."""

    def __init__(self, total: int, desc: str, enabled: bool) -> None:
        from tqdm.auto import tqdm

        self.bar = tqdm(
            total=total, desc=desc, unit="rows", disable=not enabled, dynamic_ncols=True
        )
        self.bytes = 0

    def update(self, rows: int, nbytes: int = 0) -> None:
        self.bytes += nbytes
        if nbytes:
            self.bar.set_postfix_str(f"{self.bytes / 1e6:,.1f} MB", refresh=False)
        self.bar.update(rows)

    def close(self) -> None:
        self.bar.close()


def _progress(total: int, desc: str, enabled: bool) -> _Bar:
    return _Bar(total, desc, enabled)


def _done(folder: Path) -> dict[str, Any] | None:
    marker = folder / "_DONE.json"
    return json.loads(marker.read_text()) if marker.exists() else None


def _mark_done(folder: Path, info: dict[str, Any]) -> None:
    atomic_write_bytes(
        folder / "_DONE.json", json.dumps(info, sort_keys=True).encode(), durable=False
    )


def _whole_kept(folder: Path) -> pa.Table:
    """A finished stage's kept rows as one table (global passes and Ray only)."""
    schema = parts.stage_schema(folder)
    return next(parts.windows(parts.iter_kept(folder, schema), 1 << 62, schema))


def _read_inputs(plan: Plan, folder: Path, progress: bool = False) -> tuple[int, int]:
    """Read every input (parsing it with its ``parse`` step, if any) into the input stage,
    one file at a time, writing parts as they fill.

    A JSONL file's blocks are spilled under ``blocks/<input>-<file>/`` in the stage
    folder (:mod:`sftdata.runner._blocks`): a rerun after a kill parses only the blocks
    not yet finished. Returns the blocks parsed and the blocks found finished; the
    spilled blocks are deleted once the stage is done.
    """
    rejects = []
    parsed: dict[str, int] = {}
    writer = parts.PartWriter(folder, plan.spec.shard_rows)
    rows = 0
    spills: list[BlockSpill] = []
    bar = _bytes_bar(plan, progress)

    def files(i: int, inp: InputSpec) -> Iterator[tuple[pa.Table, pa.Table]]:
        for j, p in enumerate(inp.paths):
            before = bar.n
            spills.append(BlockSpill(folder / "blocks" / f"{i:03d}-{j:05d}", bar.update))
            label = _label(p, plan.spec.file)
            yield from iter_input(
                p, inp.format, split=inp.split, locations=True, label=label, spill=spills[-1]
            )
            bar.update(max(0, before + _size(p) - bar.n))  # files read whole count at their end

    for i, (inp, parser) in enumerate(
        zip(plan.spec.inputs, plan.parsers or [None] * len(plan.spec.inputs), strict=True)
    ):
        blocks = files(i, inp)
        for table, bad in blocks:
            if inp.source is not None:
                table = _with_column(table, "source", inp.source)
                bad = _with_column(bad, "source", inp.source) if bad.num_rows else bad
            if parser is not None:
                name, step = parser
                parsed[name] = parsed.get(name, 0) + table.num_rows
                fn = TrackedSteps((step,), (name,))
                table = map_table(fn, table, batch_size=plan.spec.batch_size)
            if table.num_columns:
                writer.add(table)
            rows += table.num_rows
            rejects.append(bad)
    bar.close()
    bad_rows = concat(rejects)
    if rows + bad_rows.num_rows == 0:
        from sftdata._contract import SftDataError

        raise SftDataError("the inputs hold no rows (all files are empty)")
    names = writer.close()
    if bad_rows.num_rows:
        write_table_atomic(bad_rows, folder / "rejects.parquet")
    rows_in = rows + bad_rows.num_rows
    read, reused = sum(s.read for s in spills), sum(s.reused for s in spills)
    _mark_done(
        folder,
        {
            "parts": names,
            "rows_in": rows_in,
            "parsers": parsed,
            "blocks": {"read": read, "reused": reused},
        },
    )
    shutil.rmtree(folder / "blocks", ignore_errors=True)
    return read, reused


def _size(path: Path) -> int:
    """Bytes of an input file, or of a saved dataset's folder."""
    if path.is_dir():
        return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
    return path.stat().st_size


def _bytes_bar(plan: Plan, enabled: bool) -> Any:
    """A tqdm bar over the input bytes (rate and ETA in MB/s)."""
    from tqdm.auto import tqdm

    total = sum(_size(p) for inp in plan.spec.inputs for p in inp.paths)
    return tqdm(
        total=total,
        desc="[0] input",
        unit="B",
        unit_scale=True,
        unit_divisor=1000,
        disable=not enabled,
        dynamic_ncols=True,
    )


def _label(path: Path, spec_file: Path) -> str:
    """How rejects name an input: relative to the spec's folder when it lies under it
    (outputs then do not depend on where the project sits), else the absolute path."""
    base = spec_file.resolve().parent
    try:
        return path.resolve().relative_to(base).as_posix()
    except ValueError:
        return str(path)


def _with_column(table: pa.Table, name: str, value: str) -> pa.Table:
    col = pa.array([value] * table.num_rows, pa.string())
    if name in table.column_names:
        return table.set_column(table.column_names.index(name), name, col)
    return table.append_column(name, col)


# What a forked worker needs besides its piece (set before the pool forks).
_SHARED: dict[str, Any] = {}


def _map_part(i: int, piece: pa.Table) -> int:
    out = map_table(_SHARED["fn"], piece, batch_size=_SHARED["batch_size"])
    write_table_atomic(out, _SHARED["folder"] / f"part-{i:05d}.parquet")
    return int(piece.num_rows)


def _run_map_local(
    stage: Stage,
    prev: Path,
    folder: Path,
    *,
    rows: int,
    batch_size: int,
    num_proc: int,
    progress: bool,
    reused: list[str],
) -> list[str]:
    """Part ``i`` maps the previous stage's kept rows ``[i*rows, (i+1)*rows)``, read as a
    stream of windows; finished parts are skipped, at most ``2 * num_proc`` in flight."""
    total = parts.kept_count(prev)
    n_parts = max(1, -(-total // rows))
    names = [f"part-{i:05d}.parquet" for i in range(n_parts)]
    todo = {i for i, n in enumerate(names) if not parts.complete(folder / n)}
    if len(todo) < n_parts:
        reused.append(f"{stage.label} ({n_parts - len(todo)}/{n_parts} parts)")
    _SHARED.update(fn=TrackedSteps(stage.steps, stage.names), folder=folder, batch_size=batch_size)
    schema = parts.stage_schema(prev)
    bar = _progress(total, f"[{stage.index}] {stage.label}", progress)
    pieces = enumerate(parts.windows(parts.iter_kept(prev, schema), rows, schema))
    try:
        if num_proc > 1 and len(todo) > 1:
            ctx = multiprocessing.get_context("fork")
            with ctx.Pool(min(num_proc, len(todo))) as pool:
                pending: list[tuple[Any, int]] = []
                for i, piece in pieces:
                    if i not in todo:
                        bar.update(piece.num_rows, piece.nbytes)
                        continue
                    pending.append((pool.apply_async(_map_part, (i, piece)), piece.nbytes))
                    while len(pending) >= 2 * num_proc:
                        job, nbytes = pending.pop(0)
                        bar.update(job.get(), nbytes)
                for job, nbytes in pending:
                    bar.update(job.get(), nbytes)
        else:
            for i, piece in pieces:
                bar.update(_map_part(i, piece) if i in todo else piece.num_rows, piece.nbytes)
    finally:
        bar.close()
        _SHARED.clear()
    return names


def _write_parts(folder: Path, table: pa.Table, rows: int) -> list[str]:
    names = []
    for i, piece in enumerate(slices(table, rows)):
        name = f"part-{i:05d}.parquet"
        write_table_atomic(piece, folder / name)
        names.append(name)
    return names


def _run_global(
    stage: Stage, table: pa.Table, folder: Path, plan: Plan, engine: Engine, progress: bool
) -> None:
    fn: Callable[..., Any] = stage.steps[0]
    name = stage.names[0]
    bar = _progress(table.num_rows, f"[{stage.index}] {name}", progress)
    data = table.drop_columns([c for c in (DROP_REASON, REJECTED_BY) if c in table.column_names])
    with _datasets_bars(progress):
        if engine == "ray":
            from sftdata.engines import ray_global

            kept, rejected = ray_global(name, fn, data)
        else:
            kept, rejected = local_global(fn, data)
    bar.update(table.num_rows, table.nbytes)
    bar.close()
    if rejected.num_rows:
        if DROP_REASON not in rejected.column_names:  # a pass that forgot the reason
            rejected = rejected.append_column(
                DROP_REASON, pa.array([f"{name}.rejected"] * rejected.num_rows, pa.string())
            )
        by = pa.array([name] * rejected.num_rows, pa.string())
        rejected = rejected.drop_columns([c for c in (REJECTED_BY,) if c in rejected.column_names])
        write_table_atomic(rejected.append_column(REJECTED_BY, by), folder / "rejects.parquet")
    names = _write_parts(folder, kept, plan.spec.shard_rows)
    _mark_done(folder, {"parts": names})


class MemoryBudgetWarning(UserWarning):
    """A pass that holds its whole input in memory got more than ``memory_budget``."""


def _warn_whole(stage: Stage, prev: Path, budget: int, engine: Engine) -> None:
    """Warn before a whole-table pass (a global step other than streamed dedup, or the
    Ray engine) loads more rows than the memory budget allows."""
    size = sum(
        pq.read_metadata(p).row_group(i).total_byte_size
        for p in parts.part_paths(prev)
        for i in range(pq.read_metadata(p).num_row_groups)
    )
    if size > budget:
        why = "the ray engine" if engine == "ray" else f"{stage.names[0]!r}"
        warnings.warn(
            f"[{stage.index}] {stage.label}: {why} holds its whole input in memory "
            f"(about {size / 1e9:.2f} GB of rows) and options.memory_budget is "
            f"{budget / 1e9:.2f} GB; only dedup.exact and dedup.minhash (without "
            "against=) stream under the local engine",
            MemoryBudgetWarning,
            stacklevel=2,
        )


@contextlib.contextmanager
def _datasets_bars(enabled: bool) -> Iterator[None]:
    """Show ``datasets``' own progress bars only when ours are on."""
    import datasets

    was = datasets.is_progress_bar_enabled()
    if not enabled:
        datasets.disable_progress_bars()
    try:
        yield
    finally:
        if was:
            datasets.enable_progress_bars()


def execute(
    plan: Plan, *, engine: Engine = "local", num_proc: int | None = None, progress: bool = True
) -> RunResult:
    """Run ``plan``; finished work in the plan's work folder is reused.

    Map stages, ``dedup.exact`` and ``dedup.minhash`` (local engine), the input stage and the outputs
    stream part by part (:mod:`sftdata.runner._parts`); the other global passes and the
    Ray engine take the stage's kept rows as one table.
    """
    spec = plan.spec
    num_proc = num_proc or spec.num_proc
    reused: list[str] = []
    folder = plan.work_dir / f"00-input-{plan.input_key}"
    if _done(folder) is None:
        read, found = _read_inputs(plan, folder, progress)
        if found:
            reused.append(f"input ({found}/{read + found} blocks)")
    else:
        reused.append("input")
    info = _done(folder) or {}
    rows_in = int(info["rows_in"])
    per_step = _input_counters(rows_in, info.get("parsers", {}), folder)
    folders = [folder]
    timings: list[tuple[str, int, float]] = []
    for stage in plan.stages:
        prev, folder = folder, plan.work_dir / stage_dir_name(stage)
        before = parts.kept_count(prev)
        start = time.perf_counter()
        if _done(folder) is not None:
            reused.append(stage.label)
            remove_work(folder)  # a kill between _DONE.json and the cleanup left it
        elif stage.kind == "map":
            folder.mkdir(parents=True, exist_ok=True)
            names = _run_stage_map(stage, prev, folder, plan, engine, num_proc, progress, reused)
            _mark_done(folder, {"parts": names})
        elif engine == "local" and streamable(stage.steps[0]):
            folder.mkdir(parents=True, exist_ok=True)
            bar = _progress(before, f"[{stage.index}] {stage.label}", progress)
            names, rejects, again = run_streamed(
                stage.steps[0],
                stage.names[0],
                prev,
                folder,
                rows=spec.shard_rows,
                bar=bar,
                budget=spec.memory_budget,
            )
            bar.close()
            if again:
                reused.append(f"{stage.label} ({again})")
            _mark_done(folder, {"parts": names, "rejects": rejects})
            remove_work(folder)
        else:
            _warn_whole(stage, prev, spec.memory_budget, engine)
            _run_global(stage, _whole_kept(prev), folder, plan, engine, progress)
        if stage.label not in reused:
            timings.append((stage.label, before, time.perf_counter() - start))
        after = parts.kept_count(folder)
        per_step += _stage_counters(
            stage, before, after, parts.reject_counters(folder, stage.names)
        )
        folders.append(folder)
    total = Counters(rows_in, parts.kept_count(folder), parts.total_reasons(folders).dropped)
    out_files, rej_files = write_outputs(spec, folders, total, per_step)
    return RunResult(total, per_step, out_files, rej_files, reused, timings)


def _run_stage_map(
    stage: Stage,
    prev: Path,
    folder: Path,
    plan: Plan,
    engine: Engine,
    num_proc: int,
    progress: bool,
    reused: list[str],
) -> list[str]:
    spec = plan.spec
    if engine == "ray":
        from sftdata.engines import ray_map_table

        fn = TrackedSteps(stage.steps, stage.names)
        _warn_whole(stage, prev, spec.memory_budget, engine)
        out = ray_map_table(fn, _whole_kept(prev), batch_size=spec.batch_size)
        return _write_parts(folder, out, spec.shard_rows)
    return _run_map_local(
        stage,
        prev,
        folder,
        rows=spec.shard_rows,
        batch_size=spec.batch_size,
        num_proc=num_proc,
        progress=progress,
        reused=reused,
    )


def _input_counters(
    rows_in: int, parsed: dict[str, int], folder: Path
) -> list[tuple[str, Counters]]:
    """Counts of the input stage: reading, then each input parser."""
    names = ("input", *parsed)
    by_name = parts.reject_counters(folder, names)
    out = []
    for name, n in [("input", rows_in), *parsed.items()]:
        c = Counters.from_reasons(by_name[name])  # type: ignore[arg-type]
        out.append((name, Counters(n, n - len(by_name[name]), c.dropped)))
    return out


def _stage_counters(
    stage: Stage, rows_in: int, kept: int, by_name: dict[str, list[str]]
) -> list[tuple[str, Counters]]:
    out = []
    n = rows_in
    for name in stage.names:
        mine = by_name[name]
        c = Counters.from_reasons(mine)  # type: ignore[arg-type]
        left = kept if stage.kind == "global" else n - len(mine)
        out.append((name, Counters(n, left, c.dropped)))
        n = left
    return out


os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
