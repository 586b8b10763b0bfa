"""Peak RSS and seconds of reading one input as ``sftdata run`` does, against pyarrow alone.

    python benchmarks/read_input.py FILE.jsonl [--block-mb 16]

Each measurement runs in a fresh child process, so its peak RSS is its own:

* ``iter_input``: every ``(rows, rejects)`` block of :func:`sftdata.runner._io.iter_input`
  (parse, type, spill, read back), the tables dropped as they come;
* ``read_json``: ``pyarrow.json.read_json`` on the same lines with the same block size,
  the table dropped at the end: the peer, what pyarrow's own reader costs. pyarrow
  stops at the first bad line, so it reads a copy of the file without the lines
  ``json.loads`` refuses (written to a temporary folder first).

Both children first import what ``sftdata run`` loads before it reads (pyarrow, pandas,
the runner). Printed: rows, rejects, wall and CPU seconds, peak RSS (MB) for each and
the RSS after those imports, and the ratio of
``iter_input``'s CPU seconds to ``read_json``'s. Wall times move with machine load; the
CPU ratio is the figure to compare.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

CHILD = """
import json, resource, sys, time
from pathlib import Path
kind, path, block = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3])
import pyarrow.json, sftdata.runner._run  # what `sftdata run` has loaded before reading
rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
wall, cpu = time.perf_counter(), time.process_time()
rows = bad = 0
if kind == "iter_input":
    from sftdata.runner._io import iter_input
    for table, rejects in iter_input(path, None, block_bytes=block, locations=True):
        rows += table.num_rows
        bad += rejects.num_rows
        del table, rejects
else:
    import pyarrow.json as pj
    opts = pj.ReadOptions(block_size=block)
    rows = pj.read_json(path, read_options=opts).num_rows
print(json.dumps({
    "rows": rows, "rejects": bad,
    "wall_s": time.perf_counter() - wall, "cpu_s": time.process_time() - cpu,
    "rss_start_mb": rss0,
    "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
}))
"""


def measure(kind: str, path: str, block: int) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, kind, path, str(block)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return dict(json.loads(out.strip().splitlines()[-1]))


def good_lines(src: Path, dst: Path) -> None:
    """Copy the lines of ``src`` that are JSON objects to ``dst``."""
    with src.open("rb") as f, dst.open("wb") as out:
        for line in f:
            try:
                ok = isinstance(json.loads(line), dict)
            except ValueError:
                ok = False
            if ok:
                out.write(line if line.endswith(b"\n") else line + b"\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("path")
    ap.add_argument("--block-mb", type=int, default=16)
    args = ap.parse_args()
    block = args.block_mb << 20
    with tempfile.TemporaryDirectory() as tmp:
        clean = Path(tmp) / "good.jsonl"
        good_lines(Path(args.path), clean)
        res = {
            "iter_input": measure("iter_input", args.path, block),
            "read_json": measure("read_json", str(clean), block),
        }
    for kind, r in res.items():
        print(
            f"{kind:10s} rows={r['rows']} rejects={r['rejects']} wall={r['wall_s']:.2f}s "
            f"cpu={r['cpu_s']:.2f}s peak_rss={r['peak_rss_mb']:.0f} MB "
            f"(after imports {r['rss_start_mb']:.0f} MB)"
        )
    ratio = res["iter_input"]["cpu_s"] / max(res["read_json"]["cpu_s"], 1e-9)
    print(f"iter_input / read_json CPU seconds: {ratio:.2f}x")


if __name__ == "__main__":
    main()
