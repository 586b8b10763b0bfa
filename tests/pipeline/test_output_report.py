"""The run's report and ``format: hf`` output are written part by part, and equal the
one-table results: the report of all kept rows together, a dataset saved from one table."""

from __future__ import annotations

import json
from pathlib import Path

import datasets
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import sftdata as sd
from sftdata.runner import load_spec, run
from sftdata.runner._output import _write_hf
from tests.pipeline._helpers import STEPS, folder_bytes, write_jsonl, write_spec

SPEC = f"""\
inputs:
  - {{path: web.jsonl, source: web}}
  - {{path: books.jsonl, source: books}}
steps:
  - {STEPS}:Upper
  - {STEPS}:MinLength: {{chars: 4}}
  - {STEPS}:drop_odd_length
output: {{path: out/data, format: parquet, shard_rows: 7}}
report: {{path: out/report}}
options: {{shard_rows: 3, batch_size: 2}}
"""


def _rows(n: int, lang: str) -> list[dict[str, str]]:
    return [{"text": "word " * (i % 9) + "x" * (i % 4), "language": lang} for i in range(n)]


def test_multi_part_report_equals_the_one_table_report(tmp_path: Path) -> None:
    """stats.json and report.md of a run over many small parts equal the report of all
    kept rows read back as one dataset."""
    write_jsonl(tmp_path / "web.jsonl", _rows(23, "en"))
    write_jsonl(tmp_path / "books.jsonl", _rows(17, "fr"))
    result = run(load_spec(write_spec(tmp_path, SPEC)), progress=False)
    shards = sorted((tmp_path / "out" / "data").glob("part-*.parquet"))
    assert len(shards) > 1 and result.counters.rejected > 0
    kept = datasets.Dataset(pa.concat_tables(pq.read_table(p) for p in shards))
    expected = sd.stats.report(kept)
    report = tmp_path / "out" / "report"
    assert (report / "stats.json").read_bytes() == json.dumps(
        expected.to_dict(), indent=2, default=str
    ).encode()
    md = (report / "report.md").read_text()
    assert md.endswith("## Output statistics\n\n" + expected.to_markdown())
    assert set(expected.sources) == {"books", "web"} and set(expected.languages) == {"en", "fr"}
    assert (report / "chars_hist.png").read_bytes()[:4] == b"\x89PNG"


@pytest.fixture(scope="module")
def schema() -> pa.Schema:
    msg = pa.struct([("role", pa.string()), ("content", pa.string())])
    return pa.schema([("text", pa.string()), ("messages", pa.list_(msg)), ("n", pa.int32())])


@settings(max_examples=10)
@given(sizes=st.lists(st.integers(0, 6), min_size=1, max_size=5).filter(any))
def test_hf_output_from_pieces_equals_one_table(
    tmp_path_factory: pytest.TempPathFactory, schema: pa.Schema, sizes: list[int]
) -> None:
    """Property: format hf written piece by piece loads as the dataset saved from the
    pieces concatenated (rows, features, row order, the Arrow shards' bytes), and the same
    pieces give the same folder, byte for byte. (With no rows at all
    ``datasets`` saves no shard and cannot load the folder back, either way.)"""
    pieces, start = [], 0
    for k in sizes:
        texts = [f"row {i}" for i in range(start, start + k)]
        msgs = [[{"role": "user", "content": t}] for t in texts]
        pieces.append(
            pa.table({"text": texts, "messages": msgs, "n": range(start, start + k)}, schema=schema)
        )
        start += k
    folder = tmp_path_factory.mktemp("hf")
    _write_hf(iter(pieces), folder / "streamed")
    datasets.Dataset(pa.concat_tables(pieces)).save_to_disk(str(folder / "one"))
    got = datasets.load_from_disk(str(folder / "streamed"))
    want = datasets.load_from_disk(str(folder / "one"))
    assert got.features == want.features and got.to_list() == want.to_list()
    streamed, one = folder_bytes(folder / "streamed"), folder_bytes(folder / "one")
    assert set(streamed) == set(one)
    # the same Arrow shards and info; only the fingerprint (a hash of the rows) differs
    assert {k: v for k, v in streamed.items() if k != "state.json"} == {
        k: v for k, v in one.items() if k != "state.json"
    }
    _write_hf(iter(pieces), folder / "again")
    assert folder_bytes(folder / "again") == streamed
    assert not [p.name for p in folder.iterdir() if p.name.startswith(".")]  # no staging left
