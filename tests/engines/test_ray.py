"""The Ray engine gives exactly the local engine's rows, rejects and counters."""

from __future__ import annotations

import functools
import os
import random
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import sftdata as sd
from sftdata.engines._local import local_global, map_table
from sftdata.runner import load_spec, run
from sftdata.runner._apply import TrackedSteps
from tests.pipeline._helpers import folder_bytes, write_jsonl, write_spec
from tests.pipeline._steps import MinLength, Upper

ray = pytest.importorskip("ray")
pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module", autouse=True)
def local_ray():
    """One local Ray for the module; workers import tests.* through PYTHONPATH."""
    os.environ["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(REPO), os.environ.get("PYTHONPATH")])
    )
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    ray.data.DataContext.get_current().enable_progress_bars = False
    yield
    ray.shutdown()


def _near_duplicates(seed: int, n: int) -> list[str]:
    """Texts drawn from a few bases with a few words changed: clusters, some chained."""
    rng = random.Random(seed)
    vocab = [
        "alpha",
        "beta",
        "gamma",
        "delta",
        "epsilon",
        "zeta",
        "eta",
        "theta",
        "iota",
        "kappa",
        "lambda",
        "mu",
        "nu",
        "xi",
    ]
    bases = [[rng.choice(vocab) for _ in range(30)] for _ in range(12)]
    out = []
    for _ in range(n):
        words = list(rng.choice(bases))
        for _ in range(rng.randint(0, 4)):
            words[rng.randrange(len(words))] = f"w{rng.randint(0, 50)}"
        out.append(" ".join(words))
    return out


def test_map_adapter_equals_local_batches() -> None:
    """map_batches(ArrowBatchStep(step)) on Ray returns the local map_table result, rejects included."""
    from sftdata.engines import ray_map_table

    table = pa.table({"text": ["ab" * (i % 5) for i in range(300)]})
    fn = TrackedSteps((Upper(), MinLength(chars=4)), ("upper", "min"))
    assert ray_map_table(fn, table, batch_size=32).equals(map_table(fn, table, batch_size=7))


def test_actor_pool_step_equals_local() -> None:
    """A step built once per actor (model-backed steps) gives the same rows as a plain map."""
    from sftdata.engines import actor_map_batches
    from sftdata.engines._ray import from_ray, to_ray

    table = pa.table({"text": [f"row {i}" for i in range(50)]})
    out = from_ray(
        actor_map_batches(to_ray(table), functools.partial(Upper), num_actors=2, batch_size=8)
    )
    assert out.equals(map_table(Upper(), table, batch_size=8))


def test_ray_near_dedup_equals_local() -> None:
    """Ray MinHash dedup keeps and rejects exactly the rows sd.dedup.minhash_dedup does."""
    from sftdata.engines._ray_dedup import RAY_GLOBALS

    texts = [*_near_duplicates(0, 120), "", "short one", "short one"]
    table = pa.table({"text": texts})
    fn = functools.partial(sd.dedup.minhash_dedup, threshold=0.7)
    local_kept, local_rej = local_global(fn, table)
    ray_kept, ray_rej = RAY_GLOBALS["dedup.minhash"](fn, table)
    assert local_rej.num_rows > 10  # the input really has clusters
    assert ray_kept.equals(local_kept) and ray_rej.equals(local_rej)


def test_ray_run_equals_local_run(tmp_path: Path) -> None:
    """`run --engine ray` writes byte-identical output and rejects, with identical counters."""
    rows = [
        {"instruction": f"Question {i % 9}", "input": "", "output": f"Answer {i % 9}"}
        for i in range(40)
    ]
    rows += [{"instruction": t, "input": "", "output": "ok"} for t in _near_duplicates(0, 30)]
    rows += [
        {
            "instruction": "Mail me",
            "input": "",
            "output": "at jane.doe@example.com, key sk-abcdefghijklmnopqrstuvwx1234",
        }
    ]
    rows += [{"instruction": "", "input": "", "output": ""}, {"nothing": 1}]
    spec = (
        "inputs: [{path: rows.jsonl, source: demo}]\n"
        "steps:\n  - parse.alpaca\n  - clean.fix_text\n  - dedup.exact\n  - safety.pii\n"
        "  - dedup.minhash: {threshold: 0.7}\n"
        "output: {path: out/data, format: jsonl, shard_rows: 8}\n"
        "rejects: {path: out/rejects}\n"
        "options: {shard_rows: 10, batch_size: 6}\n"
    )
    results = {}
    for engine in ("local", "ray"):
        d = tmp_path / engine
        write_jsonl(d / "rows.jsonl", rows)
        (d / "rows.jsonl").open("a").write("{broken\n")
        result = run(load_spec(write_spec(d, spec)), engine=engine, progress=False)
        results[engine] = (result.counters, result.per_step, folder_bytes(d / "out"))
    counters = results["local"][0]
    assert counters.dropped["dedup.exact"] >= 31 and counters.dropped["dedup.near"] >= 1
    assert results["ray"] == results["local"]


def test_cli_engine_ray(tmp_path: Path, capsys) -> None:
    """`sftdata run --engine ray` exits 0 and writes what the local engine writes."""
    from sftdata.cli import main

    outs = []
    for engine in ("local", "ray"):
        d = tmp_path / engine
        write_jsonl(d / "rows.jsonl", [{"text": f"line {i % 4}"} for i in range(20)])
        spec = write_spec(d, "inputs: [rows.jsonl]\nsteps: [dedup.exact]\noutput: {path: out}\n")
        assert main(["run", str(spec), "--engine", engine, "--no-progress"]) == 0
        outs.append(folder_bytes(d / "out"))
    assert "dedup.exact" in capsys.readouterr().out
    assert outs[0] == outs[1]


@settings(max_examples=3, deadline=None)
@given(
    n=st.integers(min_value=2, max_value=16),
    edges=st.lists(st.tuples(st.integers(0, 15), st.integers(0, 15)), max_size=20),
)
def test_ray_components_equal_union_find(n: int, edges: list[tuple[int, int]]) -> None:
    """Large/small-star rounds on Ray give every row the root sd.dedup.connected_components gives."""
    import numpy as np

    from sftdata.engines._ray_dedup import _sort_shuffle, components

    pairs = np.array([(u % n, v % n) for u, v in edges if u % n != v % n], dtype=np.int64)
    pairs = pairs.reshape(-1, 2)
    path = np.array([(i, i + 1) for i in range(n - 1)], dtype=np.int64)[::-1]  # a long chain too
    for graph in (pairs, path):
        table = pa.table({"u": graph[:, 0], "v": graph[:, 1]})
        with _sort_shuffle():
            got = components(ray.data.from_arrow(table), n)
        assert got.tolist() == sd.dedup.connected_components(n, graph).tolist()
