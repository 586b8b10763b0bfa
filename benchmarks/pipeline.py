"""Benchmark: rows/s of ``sftdata run`` for a representative SFT pipeline.

The pipeline parses Alpaca rows, repairs text, applies the quality heuristics and
redacts PII (all map steps, so they scale with workers), on rows built from the
shipped demo data (``examples/data/chat_alpaca.jsonl``) with a row number worked into
every text so no two rows are equal::

    parse.alpaca -> clean.fix_text -> clean.quality -> safety.pii

Reports, each on a fresh work folder (nothing reused):

- rows/s with the local engine at ``--num-proc 1`` and ``2`` and their ratio;
- rows/s with the Ray engine (a local Ray on ``--ray-cpus`` CPUs; start-up excluded),
  and the check that its output files equal the local engine's byte for byte.

    python benchmarks/pipeline.py [--rows 100000] [--no-ray]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import tempfile
import time
from pathlib import Path

from sftdata.runner import load_spec, run

ROOT = Path(__file__).resolve().parents[1]
SPEC = """\
inputs: [{path: rows.jsonl, source: bench}]
steps:
  - parse.alpaca
  - clean.fix_text
  - clean.quality: {min_words: 1, min_stop_words: 0, min_mean_word_length: 1.0}
  - safety.pii
output: {path: out, format: parquet, shard_rows: 50000}
options: {batch_size: 256, shard_rows: 1000}
"""
NOTES = ["Contact me at ana{i}@example.com.", "Call +1 415 555 01{j:02d} today.", "Row {i}."]


def make_rows(n: int) -> list[dict[str, str]]:
    """``n`` Alpaca rows from the demo file, each made unique, some with PII or mojibake."""
    demo = ROOT / "examples" / "data" / "chat_alpaca.jsonl"
    base = []
    for line in demo.read_text(encoding="utf-8").splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(row, dict) and isinstance(row.get("output"), str):
            base.append(row)
    rows = []
    for i in range(n):
        r = dict(base[i % len(base)])
        note = NOTES[i % len(NOTES)].format(i=i, j=i % 100)
        text = f"{r.get('output', '')} {note}"
        r["output"] = text.encode("utf-8").decode("latin-1") if i % 17 == 0 else text
        rows.append(r)
    return rows


def _cpu() -> float:
    own, kids = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def timed_run(folder: Path, *, engine: str, num_proc: int) -> tuple[float, int, float]:
    """Wall seconds, rows in, and CPU seconds (this process + its workers) of one fresh run."""
    spec = load_spec(folder / "pipeline.yaml")
    shutil.rmtree(folder / "out", ignore_errors=True)
    shutil.rmtree(folder / ".out.work", ignore_errors=True)
    cpu, start = _cpu(), time.perf_counter()
    result = run(spec, engine=engine, num_proc=num_proc, progress=False)  # type: ignore[arg-type]
    return time.perf_counter() - start, result.counters.rows_in, _cpu() - cpu


def output_bytes(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((folder / "out").glob("part-*"))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--no-ray", action="store_true")
    ap.add_argument("--ray-cpus", type=int, default=2)
    args = ap.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="sftdata-bench-"))
    with open(folder / "rows.jsonl", "w", encoding="utf-8") as f:
        for r in make_rows(args.rows):
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    (folder / "pipeline.yaml").write_text(SPEC)
    timed_run(folder, engine="local", num_proc=1)  # warm imports and caches
    t1, n, c1 = timed_run(folder, engine="local", num_proc=1)
    local = output_bytes(folder)
    t2, _, c2 = timed_run(folder, engine="local", num_proc=2)
    assert output_bytes(folder) == local, "num_proc=2 changed the output"
    print(f"rows: {n}; load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print(f"local num_proc=1: {n / t1:10.0f} rows/s  ({t1:.2f} s wall, {c1:.2f} s CPU)")
    print(
        f"local num_proc=2: {n / t2:10.0f} rows/s  ({t2:.2f} s wall, {c2:.2f} s CPU)  "
        f"scaling x{t1 / t2:.2f}"
    )
    if not args.no_ray:
        from sftdata.engines import init_ray

        init_ray(num_cpus=args.ray_cpus)
        import ray.data

        ray.data.DataContext.get_current().enable_progress_bars = False
        timed_run(folder, engine="ray", num_proc=1)  # warm the workers
        tr, _, _ = timed_run(folder, engine="ray", num_proc=1)
        same = output_bytes(folder) == local
        print(
            f"ray ({args.ray_cpus} CPUs):     {n / tr:10.0f} rows/s  ({tr:.2f} s)  "
            f"vs local num_proc=1 x{t1 / tr:.2f}; identical output: {same}"
        )
    shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
