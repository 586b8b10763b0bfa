"""Streamed dedup passes under a memory budget, and resumed after ``kill -9``.

The budget decides whether a pass sorts its keys in memory or distributes them into
bucket files; the outputs must not depend on it. A run killed in pass 1 (signing) or
pass 3 (writing) reuses the windows it finished and writes the same bytes as a run
never interrupted.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sftdata.dedup import connected_components
from sftdata.dedup._lsh import union_into
from sftdata.runner import SpecError, load_spec, run
from sftdata.runner._global_stream import _buckets_for

from ._helpers import folder_bytes, write_jsonl, write_spec

SPEC = """inputs: [{{path: rows.jsonl}}]
steps:
  - dedup.exact
  - dedup.minhash: {{threshold: 0.7, num_perm: 64}}
output: {{path: out/data, format: parquet, shard_rows: 300}}
rejects: {{path: out/rejects, format: jsonl, shard_rows: 200}}
options: {{shard_rows: {rows}{extra}}}
"""


def _corpus(n: int, seed: int = 0) -> list[dict[str, object]]:
    """Rows with planted exact copies (case changed) and near copies (one word changed)."""
    rng = np.random.default_rng(seed)
    vocab = [f"w{i}" for i in range(3000)]
    rows: list[dict[str, object]] = []
    for i in range(n):
        if rows and rng.random() < 0.1:
            src = str(rows[int(rng.integers(len(rows)))]["text"])
            text = src.upper()
        elif rows and rng.random() < 0.1:
            words = str(rows[int(rng.integers(len(rows)))]["text"]).split()
            words[int(rng.integers(len(words)))] = f"edit{i}"
            text = " ".join(words)
        else:
            text = " ".join(rng.choice(vocab, size=int(rng.integers(30, 60))))
        rows.append({"id": i, "text": text})
    return rows


def test_memory_budget_spills_and_outputs_do_not_change(tmp_path: Path) -> None:
    """A 200 kB budget over 4000 rows spills both sorts into bucket files; output and
    rejects bytes equal those of the default (2 GB, in memory) run, over 40-row windows.
    (The spec's smallest budget is 1 MiB; a smaller one keeps this test small.)"""
    rows = _corpus(4000)
    assert _buckets_for(4000 * 16, 200_000) > 1  # exact keys: 384 kB of sort > 100 kB
    assert _buckets_for(4000 * 8, 200_000) > 1  # one band of minhash keys
    assert _buckets_for(4000 * 16, 2 * 10**9) == 1
    got = {}
    for name, budget in (("default", None), ("small", 200_000)):
        d = tmp_path / name
        write_jsonl(d / "rows.jsonl", rows)
        spec = load_spec(write_spec(d, SPEC.format(rows=40, extra="")))
        res = run(spec if budget is None else spec.replace(memory_budget=budget), progress=False)
        got[name] = (folder_bytes(d / "out"), res.counters)
    assert got["default"] == got["small"]
    counters = got["default"][1]
    assert counters.dropped["dedup.exact"] > 200 and counters.dropped["dedup.near"] > 200


def test_memory_budget_is_validated(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "rows.jsonl", [{"text": "a"}])
    for bad in ("2XB", "0.5MB", "lots", "true"):
        path = write_spec(tmp_path, SPEC.format(rows=40, extra=f", memory_budget: {bad}"))
        with pytest.raises(SpecError, match=r"pipeline.yaml:\d+: options.memory_budget"):
            load_spec(path)
    spec = load_spec(write_spec(tmp_path, SPEC.format(rows=40, extra=", memory_budget: 3GiB")))
    assert spec.memory_budget == 3 << 30


CHILD = """
import json, sys
from sftdata.runner import load_spec, run
res = run(load_spec(sys.argv[1]), progress=False)
print(json.dumps(res.reused))
"""


@pytest.mark.slow
@pytest.mark.parametrize("kill_at", ["signing", "writing"])
def test_a_killed_dedup_pass_resumes_per_window(tmp_path: Path, kill_at: str) -> None:
    """SIGKILL while the minhash pass signs windows (a finished window's .npz exists) or
    writes them (a part exists); the rerun reuses that work and writes the same bytes
    as an uninterrupted run."""
    rows = _corpus(8000, seed=1)
    spec_text = SPEC.format(rows=50, extra="").replace("  - dedup.exact\n", "")
    whole = tmp_path / "whole"
    write_jsonl(whole / "rows.jsonl", rows)
    run(load_spec(write_spec(whole, spec_text)), progress=False)

    d = tmp_path / "killed"
    write_jsonl(d / "rows.jsonl", rows)
    spec = write_spec(d, spec_text)
    pattern = ".pass1/w-00005.npz" if kill_at == "signing" else "part-00005.parquet"
    work = d / "out" / ".data.work"
    for _ in range(5):  # the kill must land inside the pass: retry if it missed
        proc = subprocess.Popen([sys.executable, "-c", CHILD, str(spec)], stdout=subprocess.PIPE)
        while proc.poll() is None and not list(work.glob(f"01-global-*/{pattern}")):
            time.sleep(0.001)
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            stage = next(work.glob("01-global-*"))
            if not (stage / "_DONE.json").exists():
                break
        for p in sorted(work.rglob("*"), reverse=True):  # start over
            p.unlink() if p.is_file() else p.rmdir()
    else:
        pytest.fail("the run finished before it could be killed inside the pass")
    for lost in sorted((stage / ".pass1").glob("w-*.bands"))[:1]:
        lost.unlink()  # a finished window missing a file is signed again, not trusted
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(spec)], capture_output=True, text=True, check=True
    )
    reused = json.loads(out.stdout.strip().splitlines()[-1])
    assert folder_bytes(d / "out") == folder_bytes(whole / "out")
    if kill_at == "signing":
        assert any("windows of pass 1" in r for r in reused), reused
    else:  # parts written before the kill are kept
        assert any(" parts)" in r for r in reused), reused


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(1, 30),
    edges=st.lists(st.tuples(st.integers(0, 29), st.integers(0, 29)), max_size=40),
    cut=st.integers(0, 40),
)
def test_union_in_steps_equals_components_of_all_edges(
    n: int, edges: list[tuple[int, int]], cut: int
) -> None:
    """Property: joining edges in two calls gives the components of joining them at once."""
    pairs = np.array([(u % n, v % n) for u, v in edges], dtype=np.int64).reshape(-1, 2)
    parent = connected_components(n, pairs[:cut])
    assert union_into(parent, pairs[cut:]).tolist() == connected_components(n, pairs).tolist()


def test_a_whole_table_pass_over_the_budget_warns(tmp_path: Path) -> None:
    """A global pass that is not streamed warns, naming itself, when its input is larger
    than the budget, and still runs; under the budget it is silent."""
    from sftdata.runner._run import MemoryBudgetWarning

    write_jsonl(tmp_path / "rows.jsonl", [{"text": "ab" * (i % 5)} for i in range(200)])
    text = (
        "inputs: [rows.jsonl]\n"
        "steps:\n  - tests.pipeline._steps:drop_odd_length\n"
        "output: {path: out/data, format: jsonl}\n"
    )
    spec = load_spec(write_spec(tmp_path, text))
    with pytest.warns(MemoryBudgetWarning, match=r"\[1\] .*drop_odd_length.* whole input"):
        res = run(spec.replace(memory_budget=64), progress=False)
    assert res.counters.kept == 200
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error", MemoryBudgetWarning)
        run(spec.replace(work_dir=tmp_path / "w2"), progress=False)


def test_stale_work_files_are_not_trusted(tmp_path: Path) -> None:
    """An unfinished stage folder holding a torn ``.pass1/meta.json`` and a stale
    ``rejects.parquet`` (left by a whole-table pass of the same stage) is redone and
    writes what the first run wrote, counting each rejected row once."""
    write_jsonl(tmp_path / "rows.jsonl", _corpus(600, seed=2))
    spec = load_spec(write_spec(tmp_path, SPEC.format(rows=40, extra="")))
    first = run(spec, progress=False)
    want = folder_bytes(tmp_path / "out")
    for stage in (tmp_path / "out" / ".data.work").glob("0[12]-global-*"):
        (stage / "_DONE.json").unlink()
        (stage / ".pass1").mkdir()
        (stage / ".pass1" / "meta.json").write_text("")
        (stage / "rejects.parquet").write_bytes((stage / "part-00000.parquet").read_bytes())
    again = run(spec, progress=False)
    assert folder_bytes(tmp_path / "out") == want
    assert again.counters == first.counters
