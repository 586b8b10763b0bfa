"""Running pipelines locally: outputs, rejects, counters, resuming, parallel workers."""

from __future__ import annotations

import json
from pathlib import Path

import datasets
import pyarrow.parquet as pq
from hypothesis import given, settings
from hypothesis import strategies as st

import sftdata as sd
from sftdata.runner import load_spec, run
from tests.pipeline._helpers import STEPS, folder_bytes, text_spec, write_jsonl, write_spec
from tests.pipeline._steps import MinLength, Upper

SPEC_STEPS = (
    f"  - {STEPS}:Upper\n  - {STEPS}:MinLength: {{chars: 3}}\n  - {STEPS}:drop_odd_length\n"
)


def _jsonl(folder: Path) -> list[dict]:
    rows = []
    for p in sorted(folder.glob("part-*.jsonl")):
        rows += [json.loads(line) for line in p.read_text().splitlines()]
    return rows


@settings(max_examples=8)
@given(texts=st.lists(st.text(max_size=8), max_size=25))
def test_run_equals_the_same_steps_through_datasets_map(tmp_path_factory, texts) -> None:
    """The runner's kept rows and reasons equal ds.map(Pipeline) + split_rejects + the global pass."""
    folder = tmp_path_factory.mktemp("run")
    write_jsonl(folder / "rows.jsonl", [{"text": t} for t in texts] or [{"text": "seed"}])
    texts = texts or ["seed"]
    result = run(load_spec(write_spec(folder, text_spec(steps=SPEC_STEPS))), progress=False)

    ds = datasets.Dataset.from_dict({"text": texts})
    mapped = ds.map(sd.Pipeline((Upper(), MinLength(chars=3))), batched=True, batch_size=None)
    kept, rejected = sd.split_rejects(mapped)
    kept = kept.remove_columns("drop_reason")
    even = [t for t in kept["text"] if len(t) % 2 == 0]
    assert [r["text"] for r in _jsonl(folder / "out" / "data")] == even
    expected = sd.Counters.from_reasons(
        list(rejected["drop_reason"]) + ["test.odd"] * (len(kept) - len(even)) + [None] * len(even)
    )
    assert result.counters == expected


junk_line = st.one_of(
    st.builds(lambda t: json.dumps({"text": t}), st.text(max_size=10)),
    st.builds(
        lambda v: json.dumps({"text": v}), st.integers() | st.lists(st.integers(), max_size=2)
    ),
    st.just("{not json"),
    st.just("[1, 2]"),
    st.just('"a string"'),
    st.binary(min_size=1, max_size=6).map(lambda b: b.decode("latin-1")),
)


@settings(max_examples=15)
@given(lines=st.lists(junk_line, min_size=1, max_size=20))
def test_every_input_line_is_kept_or_rejected_with_a_reason(tmp_path_factory, lines) -> None:
    """Every non-blank input line is one row, kept or rejected; every reject carries a reason."""
    folder = tmp_path_factory.mktemp("junk")
    body = "\n".join(
        line.replace("\n", " ").replace("\r", " ").replace("\x00", " ") for line in lines
    )
    data = body.encode("latin-1", "replace") + b"\n"
    (folder / "rows.jsonl").write_bytes(data)
    nonblank = sum(1 for line in data.splitlines() if line.strip())  # blank lines are not rows
    spec = load_spec(write_spec(folder, text_spec(steps=f"  - {STEPS}:MinLength: {{chars: 1}}\n")))
    try:
        result = run(spec, progress=False)
    except sd.SftDataError as e:  # only "no rows at all" may stop the run
        assert "no rows" in str(e) and nonblank == 0
        return
    c = result.counters
    assert c.rows_in == nonblank == c.kept + c.rejected
    rejects = _jsonl(folder / "out" / "rejects")
    assert len(rejects) == c.rejected and all(r["drop_reason"] for r in rejects)
    assert len(_jsonl(folder / "out" / "data")) == c.kept


def test_rerun_reuses_finished_stages_and_writes_the_same_bytes(tmp_path: Path) -> None:
    """A second run of the same spec reuses every stage and rewrites identical files."""
    write_jsonl(tmp_path / "rows.jsonl", [{"text": "x" * (i % 7)} for i in range(40)])
    spec = load_spec(write_spec(tmp_path, text_spec(steps=SPEC_STEPS, fmt="parquet")))
    first = run(spec, progress=False)
    before = folder_bytes(tmp_path / "out")
    second = run(spec, progress=False)
    assert second.reused == [
        "input",
        f"{STEPS}:Upper + {STEPS}:MinLength",
        f"{STEPS}:drop_odd_length",
    ]
    assert folder_bytes(tmp_path / "out") == before
    assert second.counters == first.counters
    assert [t[0] for t in first.timings] == second.reused[1:] and second.timings == []
    assert pq.read_table(tmp_path / "out" / "data" / "part-00000.parquet").column_names == [
        "text",
        "source",
    ]


def test_changed_option_recomputes_from_that_step(tmp_path: Path) -> None:
    """Changing one step's option reuses earlier work only and changes the result."""
    write_jsonl(tmp_path / "rows.jsonl", [{"text": "x" * (i % 7)} for i in range(30)])
    run(load_spec(write_spec(tmp_path, text_spec(steps=SPEC_STEPS))), progress=False)
    changed = SPEC_STEPS.replace("chars: 3", "chars: 5")
    result = run(load_spec(write_spec(tmp_path, text_spec(steps=changed))), progress=False)
    assert result.reused == ["input"]
    assert all(len(r["text"]) >= 5 for r in _jsonl(tmp_path / "out" / "data"))


def test_two_workers_write_the_same_bytes_as_one(tmp_path: Path) -> None:
    """--num-proc 2 and --num-proc 1 give byte-identical outputs, rejects and counters."""
    outs = []
    for n in (1, 2):
        d = tmp_path / f"np{n}"
        write_jsonl(d / "rows.jsonl", [{"text": "ab" * (i % 5)} for i in range(60)])
        spec = load_spec(write_spec(d, text_spec(steps=SPEC_STEPS)))
        outs.append((run(spec, num_proc=n, progress=False).per_step, folder_bytes(d / "out")))
    assert outs[0] == outs[1]


def test_counts_per_step_chain(tmp_path: Path) -> None:
    """Each step's rows_in is the previous step's kept; the first is the rows read."""
    write_jsonl(tmp_path / "rows.jsonl", [{"text": "x" * (i % 6)} for i in range(50)])
    (tmp_path / "rows.jsonl").open("a").write("{broken\n")
    result = run(load_spec(write_spec(tmp_path, text_spec(steps=SPEC_STEPS))), progress=False)
    names = [n for n, _ in result.per_step]
    assert names == ["input", f"{STEPS}:Upper", f"{STEPS}:MinLength", f"{STEPS}:drop_odd_length"]
    assert result.per_step[0][1].rows_in == 51
    for (_, prev), (_, cur) in zip(result.per_step, result.per_step[1:], strict=False):
        assert cur.rows_in == prev.kept
    assert result.per_step[-1][1].kept == result.counters.kept
    table = result.table()
    assert "input.bad_json" in table and "test.too_short" in table and "TOTAL" in table


def test_hf_output_and_report(tmp_path: Path) -> None:
    """format: hf writes a folder datasets.load_from_disk reads; the report has counts per step."""
    write_jsonl(tmp_path / "rows.jsonl", [{"text": "word " * i} for i in range(1, 9)])
    text = text_spec(steps=f"  - {STEPS}:Upper\n", fmt="hf", extra="report: {path: out/report}\n")
    run(load_spec(write_spec(tmp_path, text)), progress=False)
    ds = datasets.load_from_disk(str(tmp_path / "out" / "data"))
    assert ds["text"] == [("word " * i).upper() for i in range(1, 9)]
    counts = json.loads((tmp_path / "out" / "report" / "counters.json").read_text())
    assert counts["total"]["rows_in"] == 8
    assert [s["step"] for s in counts["steps"]] == ["input", f"{STEPS}:Upper"]


def test_every_input_format_reads_the_same_rows(tmp_path: Path) -> None:
    """jsonl, json, parquet, csv, text and a saved dataset folder give the same rows, tagged by source."""
    texts = ["first row", "second, with a comma", 'third "quoted"', "fourth café"]
    write_jsonl(tmp_path / "a.jsonl", [{"text": t} for t in texts])
    (tmp_path / "b.json").write_text(json.dumps([{"text": t} for t in texts]))
    datasets.Dataset.from_dict({"text": texts}).to_parquet(str(tmp_path / "c.parquet"))
    datasets.Dataset.from_dict({"text": texts}).to_csv(str(tmp_path / "d.csv"), index=False)
    (tmp_path / "e.txt").write_text("\n".join(texts) + "\n")
    datasets.Dataset.from_dict({"text": texts}).save_to_disk(str(tmp_path / "f_saved"))
    names = ["a.jsonl", "b.json", "c.parquet", "d.csv", "e.txt", "f_saved"]
    inputs = "".join(f"  - {{path: {n}, source: {n.split('.')[0]}}}\n" for n in names)
    spec = f"inputs:\n{inputs}output: {{path: out, format: jsonl}}\n"
    result = run(load_spec(write_spec(tmp_path, spec)), progress=False)
    rows = _jsonl(tmp_path / "out")
    assert result.counters.rejected == 0
    assert [r["text"] for r in rows] == texts * len(names)
    assert [r["source"] for r in rows] == [n.split(".")[0] for n in names for _ in texts]


def test_a_damaged_work_part_is_recomputed(tmp_path: Path) -> None:
    """A truncated part in an unfinished stage is not reused: the rerun rewrites it, same bytes."""
    write_jsonl(tmp_path / "rows.jsonl", [{"text": "x" * (i % 7)} for i in range(30)])
    spec = load_spec(write_spec(tmp_path, text_spec(steps=SPEC_STEPS)))
    run(spec, progress=False)
    before = folder_bytes(tmp_path / "out")
    (stage,) = (tmp_path / "out" / ".data.work").glob("01-map-*")
    (stage / "_DONE.json").unlink()
    part = stage / "part-00001.parquet"
    part.write_bytes(part.read_bytes()[:20])
    result = run(spec, progress=False)
    assert any("(5/6 parts)" in r for r in result.reused)
    assert folder_bytes(tmp_path / "out") == before
