"""The input stage resumes per JSONL block: a run killed with SIGKILL mid-read and rerun
parses only the blocks not yet finished and writes the bytes of an uninterrupted run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.ipc
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sftdata.runner._blocks import count_lines, line_blocks

from ._helpers import STEPS, folder_bytes, write_spec

REPO = Path(__file__).resolve().parents[2]

#: A run with 1 KiB JSONL blocks (the module constant, set before the run starts).
CHILD = """
import json, sys
from pathlib import Path
import sftdata.runner._io as io
from sftdata.runner import load_spec, run
io.JSONL_BLOCK_BYTES = 1024
result = run(load_spec(Path(sys.argv[1])), progress=False)
print(json.dumps({"reused": result.reused}))
"""

SPEC = f"""inputs:
  - {{path: rows.jsonl, source: web}}
steps:
  - {STEPS}:Upper
output: {{path: out/data, format: parquet, shard_rows: 500}}
rejects: {{path: out/rejects, format: jsonl}}
options: {{shard_rows: 700, batch_size: 64}}
"""


@given(
    data=st.lists(st.sampled_from([b"a", b"bc", b"{}", b"\n", b"\r\n", b"\r"]), max_size=40).map(
        b"".join
    ),
    block=st.integers(1, 12),
)
def test_blocks_resume_from_any_block(tmp_path_factory, data: bytes, block: int) -> None:
    """Property: blocks cover the file in order, each ends at a line break (but the last),
    number their lines as splitlines does, and reading on from any block's offset and
    first line gives the same blocks after it."""
    path = tmp_path_factory.mktemp("blocks") / "rows.jsonl"
    path.write_bytes(data)
    blocks = [(first, offset, bytes(b)) for first, offset, b in line_blocks(path, block)]
    assert b"".join(b for _, _, b in blocks) == data
    assert all(b.endswith(b"\n") for _, _, b in blocks[:-1])
    assert sum(count_lines(b) for _, _, b in blocks) == len(data.splitlines())
    for k, (first, offset, _) in enumerate(blocks):
        assert first == 1 + len(data[:offset].splitlines())
        again = [(f, o, bytes(b)) for f, o, b in line_blocks(path, block, offset, first)]
        assert again == blocks[k:]


def _corpus(folder: Path) -> Path:
    """~0.5 MB of JSONL (about 500 blocks of 1 KiB): rows, a few malformed lines, a
    non-object, bad UTF-8, blank lines, and a `meta` field that only some rows have."""
    lines = []
    for i in range(5_000):
        row = {"id": i, "text": f"document {i} " + "word " * (i % 17), "lang": "en"}
        if i % 7 == 0:
            row["meta"] = {"tags": ["a", "b"][: i % 3], "when": "2021-05-06"}
        line = json.dumps(row, ensure_ascii=False).encode()
        if i % 997 == 3:
            line = line[:-5]  # cut off
        elif i % 1499 == 8:
            line = b"[1, 2, 3]"
        elif i % 2003 == 11:
            line = b'{"text": "\xff broken"}'
        elif i % 1201 == 13:
            line = b""
        lines.append(line)
    path = folder / "rows.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def _start(spec: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    cmd = [sys.executable, "-c", CHILD, str(spec)]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _finish(proc: subprocess.Popen[bytes]) -> list[str]:
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err.decode()
    return list(json.loads(out.decode().strip().splitlines()[-1])["reused"])


@pytest.mark.slow
def test_sigkill_mid_input_then_rerun_reuses_finished_blocks(tmp_path: Path) -> None:
    """Killed after some blocks are spilled, the rerun parses only the others (counted in
    _DONE.json and the run's `reused`) and writes the uninterrupted run's bytes."""
    ref, crash = tmp_path / "ref", tmp_path / "crash"
    for d in (ref, crash):
        d.mkdir()
        _corpus(d)
        write_spec(d, SPEC)
    assert _finish(_start(ref / "pipeline.yaml")) == []

    proc = _start(crash / "pipeline.yaml")
    work = crash / "out" / ".data.work"
    deadline = time.time() + 120
    while len(list(work.glob("00-input-*/blocks/*/block-*.json"))) < 20:
        assert time.time() < deadline and proc.poll() is None, "no blocks spilled"
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    (stage,) = work.glob("00-input-*")
    assert not (stage / "_DONE.json").exists(), "the run should have been killed mid-read"
    markers = sorted(stage.glob("blocks/000-00000/block-*.json"))
    (ref_done,) = (ref / "out" / ".data.work").glob("00-input-*/_DONE.json")
    total = json.loads(ref_done.read_text())["blocks"]["read"]
    assert 20 <= len(markers) < total
    for marker in markers:  # a finished block is readable, with the rows of its lines
        meta = json.loads(marker.read_text())
        with pyarrow.ipc.open_file(marker.with_suffix(".arrow")) as f:
            locations = f.read_all().column("_location").to_pylist()
        assert all(meta["first"] <= int(loc.split(":")[-1]) < meta["next"] for loc in locations)

    reused = _finish(_start(crash / "pipeline.yaml"))
    assert f"input ({len(markers)}/{total} blocks)" in reused
    info = json.loads((stage / "_DONE.json").read_text())
    assert info["blocks"] == {"read": total - len(markers), "reused": len(markers)}
    assert not (stage / "blocks").exists()  # spilled blocks go once the stage is done
    assert folder_bytes(crash / "out") == folder_bytes(ref / "out")
