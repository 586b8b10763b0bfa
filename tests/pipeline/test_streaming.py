"""The runner streams stages part by part: same rows and bytes whatever the part size."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from hypothesis import given, settings
from hypothesis import strategies as st

from sftdata.engines._local import concat
from sftdata.runner import PipelineSpec, load_spec, run
from sftdata.runner import _parts as parts

from ._helpers import STEPS, folder_bytes, write_jsonl, write_spec


@settings(max_examples=40)
@given(sizes=st.lists(st.integers(0, 9), max_size=8), size=st.integers(1, 6))
def test_windows_recut_the_concatenation(sizes: list[int], size: int) -> None:
    """Property: windows are `size` rows (the last shorter) and together equal concat()."""
    tables, start = [], 0
    for k, n in enumerate(sizes):
        cols = {"x": pa.array(range(start, start + n), pa.int64())}
        if k % 2:  # every other table has one more column: the union schema has it
            cols["y"] = pa.array(["v"] * n, pa.string())
        tables.append(pa.table(cols))
        start += n
    schema = parts.unified_schema(t.schema for t in tables)
    out = list(parts.windows(iter(tables), size, schema))
    assert all(w.num_rows == size for w in out[:-1]) and 0 <= out[-1].num_rows <= size
    assert all(w.schema.equals(schema) for w in out)
    whole = concat(tables) if start else schema.empty_table()
    assert concat(out).to_pylist() == whole.to_pylist()


SPEC = """inputs:
  - {{path: a.jsonl, source: a}}
  - {{path: b.jsonl}}
  - {{path: c.parquet}}
steps:
  - {steps}:MinLength: {{chars: 3}}
  - {steps}:drop_odd_length
  - {steps}:Upper
output: {{path: out/data, format: parquet, shard_rows: 4}}
rejects: {{path: out/rejects, format: jsonl, shard_rows: 3}}
options: {{shard_rows: {rows}, batch_size: 2}}
"""


def test_outputs_identical_for_tiny_and_whole_parts(tmp_path: Path) -> None:
    """Inputs with different columns (one empty), bad lines: 2-row parts and one whole part
    write the same output and rejects bytes and the same counts."""
    results = []
    for rows in (2, 100_000):
        d = tmp_path / f"r{rows}"
        write_jsonl(d / "a.jsonl", [{"text": "ab" * (i % 4), "meta": i} for i in range(23)])
        (d / "b.jsonl").write_text(
            "".join(json.dumps({"text": "xyz" * (i % 3)}) + "\n" for i in range(17)) + "{bad\n"
        )
        pq.write_table(
            pa.table({"text": pa.array([], pa.string()), "lang": pa.array([], pa.string())}),
            d / "c.parquet",
        )
        spec = load_spec(write_spec(d, SPEC.format(steps=STEPS, rows=rows)))
        res = run(spec, progress=False)
        results.append((res.per_step, res.counters, folder_bytes(d / "out")))
    assert results[0] == results[1]
    data = results[0][2]
    assert sum(name.startswith("data/part-") for name in data) >= 2
    first = pq.read_table(tmp_path / "r2" / "out" / "data" / "part-00000.parquet")
    assert first.column_names == ["text", "meta", "source", "lang"]


def _budgeted(spec: PipelineSpec, budget: int | None) -> PipelineSpec:
    """``spec`` with a memory budget below what the spec accepts (1 MiB), so that even
    a few rows spill (the sorts' decision is checked in test_memory_budget_*)."""
    return spec if budget is None else spec.replace(memory_budget=budget)


EXACT_SPEC = """inputs: [{{path: rows.jsonl}}]
steps:
  - dedup.exact
output: {{path: out/data, format: jsonl, shard_rows: 5}}
rejects: {{path: out/rejects, format: jsonl, shard_rows: 4}}
options: {{shard_rows: {rows}, batch_size: 3}}
"""


@settings(max_examples=8, deadline=None)
@given(
    texts=st.lists(st.sampled_from(["a b", "A  b", "c", "d e", "", "x"]), min_size=1, max_size=30),
    with_id=st.booleans(),
    budget=st.sampled_from([None, 64]),
)
def test_streamed_exact_dedup_equals_the_whole_table_pass(
    tmp_path_factory, texts: list[str], with_id: bool, budget: int | None
) -> None:
    """Property: dedup.exact over 3-row parts keeps and rejects what exact_dedup does on the
    whole, with its keys in memory or (a 64-byte budget) spilled to bucket files."""
    from sftdata.dedup import exact_dedup

    rows = [{"id": f"r{i}", "text": t} if with_id else {"text": t} for i, t in enumerate(texts)]
    d = tmp_path_factory.mktemp("exact")
    write_jsonl(d / "rows.jsonl", rows)
    run(_budgeted(load_spec(write_spec(d, EXACT_SPEC.format(rows=3))), budget), progress=False)
    kept = [
        json.loads(x)
        for p in sorted((d / "out/data").glob("part-*"))
        for x in p.read_text().splitlines()
    ]
    rejected = [
        json.loads(x)
        for p in sorted((d / "out/rejects").glob("part-*"))
        for x in p.read_text().splitlines()
    ]
    want_kept, want_rej = exact_dedup(rows)
    assert [r["text"] for r in kept] == [r["text"] for r in want_kept]
    got = [(r["text"], r["drop_reason"], r.get("dup_of")) for r in rejected]
    assert sorted(got, key=str) == sorted(
        [(r["text"], r["drop_reason"], r.get("dup_of")) for r in want_rej], key=str
    )


NEAR_SPEC = """inputs: [{{path: rows.jsonl}}]
steps:
  - dedup.minhash: {{threshold: 0.5, num_perm: 32}}
output: {{path: out/data, format: jsonl, shard_rows: 5}}
rejects: {{path: out/rejects, format: jsonl, shard_rows: 4}}
options: {{shard_rows: 3, batch_size: 3}}
"""


@settings(max_examples=6, deadline=None)
@given(
    texts=st.lists(
        st.sampled_from(["a b c d e f g", "a b c d e f h", "x y z w v u", "x y z w v t", "q"]),
        min_size=1,
        max_size=25,
    ),
    with_id=st.booleans(),
    budget=st.sampled_from([None, 64]),
)
def test_streamed_minhash_dedup_equals_the_whole_table_pass(
    tmp_path_factory, texts: list[str], with_id: bool, budget: int | None
) -> None:
    """Property: dedup.minhash over 3-row parts writes the rows and columns minhash_dedup
    does, with each band sorted in memory or (a 64-byte budget) through bucket files."""
    from sftdata.dedup import minhash_dedup

    rows = [{"id": i * 10, "text": t} if with_id else {"text": t} for i, t in enumerate(texts)]
    d = tmp_path_factory.mktemp("near")
    write_jsonl(d / "rows.jsonl", rows)
    run(_budgeted(load_spec(write_spec(d, NEAR_SPEC.format())), budget), progress=False)
    kept = [
        json.loads(x)
        for p in sorted((d / "out/data").glob("part-*"))
        for x in p.read_text().splitlines()
    ]
    rejected = [
        json.loads(x)
        for p in sorted((d / "out/rejects").glob("part-*"))
        for x in p.read_text().splitlines()
    ]
    want_kept, want_rej = minhash_dedup(rows, threshold=0.5, num_perm=32)
    assert kept == [{k: r.get(k) for k in kept[0]} for r in want_kept] if kept else not want_kept
    cols = ("text", "drop_reason", "dup_of", "dup_cluster")
    assert [tuple(r.get(c) for c in cols) for r in rejected] == [
        tuple(r.get(c) for c in cols) for r in want_rej
    ]


@settings(max_examples=30, deadline=None)
@given(
    lines=st.lists(
        st.one_of(
            st.text(max_size=30).map(lambda t: json.dumps({"text": t})),
            st.integers(-5, 5).map(lambda n: json.dumps({"text": "x", "n": n})),
            st.sampled_from(['{"text": "unterminated', "[1, 2]", "", '{"text": "é"}']),
            st.sampled_from(['{"text": "s", "n": "seven"}', '{"text": "f", "n": 2.5}']),
        ),
        max_size=20,
    ),
    block=st.integers(1, 64),
    locations=st.booleans(),
)
def test_jsonl_read_in_blocks_equals_read_whole(
    tmp_path_factory, lines: list[str], block: int, locations: bool
) -> None:
    """Property: a JSONL file read in blocks of `block` bytes gives the rows and rejects
    (reasons, types, file:line locations under a label) of reading it whole, also when a
    column's types disagree between blocks."""
    from sftdata.runner._io import iter_input, read_input

    path = tmp_path_factory.mktemp("blocks") / "rows.jsonl"
    path.write_text("\n".join(lines) + ("\n" if lines else ""), encoding="utf-8")
    opts = {"locations": locations, "label": "data/rows.jsonl"}
    whole, whole_bad = read_input(path, None, **opts)
    pieces = list(iter_input(path, None, block_bytes=block, **opts))
    together = concat([t for t, _ in pieces])  # as the runner joins them
    if whole.num_rows:  # same columns and types (`_location` may sit earlier: dropped on output)
        assert sorted(together.column_names) == sorted(whole.column_names)
        together = together.select(whole.column_names)
        assert together.schema.equals(whole.schema)
    rows = together.to_pylist() if whole.num_rows else []
    bad = [r for _, b in pieces for r in b.to_pylist()]
    assert rows == whole.to_pylist()
    assert bad == whole_bad.to_pylist()


def test_a_field_missing_from_the_first_row_is_kept(tmp_path: Path) -> None:
    """A JSONL field that the first row lacks is still a column (Arrow's from_pylist alone
    would take the first row's keys and drop it)."""
    from sftdata.runner._io import read_input

    path = tmp_path / "rows.jsonl"
    path.write_text('{"text": "a"}\n{"text": "b", "source": "web"}\n', encoding="utf-8")
    table, bad = read_input(path, None)
    assert table.to_pylist() == [{"text": "a", "source": None}, {"text": "b", "source": "web"}]
    assert bad.num_rows == 0
