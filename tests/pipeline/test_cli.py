"""The `sftdata` command line: bad inputs never end in a traceback; a killed run resumes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

import sftdata as sd
from sftdata.cli import load_dataset_any, main
from tests.pipeline._helpers import STEPS, folder_bytes, text_spec, write_jsonl, write_spec

REPO = Path(__file__).resolve().parents[2]


def _cli(capsys, *args: str) -> tuple[int, str, str]:
    rc = main(list(args))
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return rc, out, err


def test_bad_lines_become_rejects_with_reasons(tmp_path: Path, capsys) -> None:
    """Malformed JSON, non-objects, wrong types and non-UTF-8 lines are rejects, not crashes."""
    good = [{"text": "fine row"}, {"text": "another"}]
    body = "".join(json.dumps(r) + "\n" for r in good).encode()
    body += b'{"text": "cut\n[1, 2]\n{"text": 42}\n\xff\xfe\xfd\n\n'
    (tmp_path / "rows.jsonl").write_bytes(body)
    (tmp_path / "empty.jsonl").write_bytes(b"")
    spec = text_spec(steps=f"  - {STEPS}:Upper\n").replace(
        "{path: rows.jsonl, source: test}", "{path: ['rows.jsonl', 'empty.jsonl']}"
    )
    rc, out, _ = _cli(capsys, "run", str(write_spec(tmp_path, spec)), "--no-progress")
    assert rc == 0
    rejects = [
        json.loads(x) for x in (tmp_path / "out/rejects/part-00000.jsonl").read_text().splitlines()
    ]
    assert sorted(r["drop_reason"] for r in rejects) == sorted(
        ["input.bad_json", "input.not_an_object", "input.bad_type:text", "input.bad_utf8"]
    )
    assert {r["location"] for r in rejects} == {f"rows.jsonl:{n}" for n in (3, 4, 5, 6)}
    kept = [
        json.loads(x)["text"]
        for x in (tmp_path / "out/data/part-00000.jsonl").read_text().splitlines()
    ]
    assert kept == ["FINE ROW", "ANOTHER"]
    assert "input.bad_utf8" in out and "TOTAL" in out


@pytest.mark.parametrize(
    ("content", "message"),
    [(b"", "no rows"), (b"\x00\x01\x02binary\x00", "binary"), (b"\n\n  \n", "no rows")],
)
def test_unusable_input_is_one_clear_error(tmp_path: Path, capsys, content, message) -> None:
    """An empty or binary input file exits 2 with one error line."""
    (tmp_path / "rows.jsonl").write_bytes(content)
    rc, _, err = _cli(capsys, "run", str(write_spec(tmp_path, text_spec())), "--no-progress")
    assert rc == 2 and err.startswith("error:") and message in err
    assert len(err.strip().splitlines()) == 1


def test_spec_errors_exit_2_with_the_line(tmp_path: Path, capsys) -> None:
    """An unknown step exits 2 and names the file:line of the step."""
    write_jsonl(tmp_path / "rows.jsonl", [{"text": "x"}])
    spec = write_spec(
        tmp_path, "inputs: [rows.jsonl]\nsteps:\n  - clean.no_such_step\noutput: out\n"
    )
    rc, _, err = _cli(capsys, "run", str(spec))
    assert rc == 2 and "pipeline.yaml:3: steps[0]" in err and "unknown step" in err


def test_dry_run_prints_the_plan_and_writes_nothing(tmp_path: Path, capsys) -> None:
    """--dry-run lists inputs, stages with resolved steps and outputs, and creates no files."""
    write_jsonl(tmp_path / "rows.jsonl", [{"text": "x"}])
    spec = write_spec(
        tmp_path, text_spec(steps=f"  - {STEPS}:Upper\n  - {STEPS}:drop_odd_length\n")
    )
    rc, out, _ = _cli(capsys, "run", str(spec), "--dry-run")
    assert rc == 0
    assert "stage 1 [map]" in out and "stage 2 [global]" in out and "rows.jsonl" in out
    assert not (tmp_path / "out").exists()


def test_templates_lists_and_previews(capsys) -> None:
    """`sftdata templates` lists sd.templates.names(); with a name it renders a preview."""
    rc, out, _ = _cli(capsys, "templates")
    assert rc == 0 and out.split() == sd.templates.names()
    rc, out, _ = _cli(capsys, "templates", "chatml")
    assert rc == 0 and "<|im_start|>assistant" in out
    rc, _, err = _cli(capsys, "templates", "no-such-template")
    assert rc == 2 and "unknown template" in err


def test_show_prints_a_row_of_an_output(tmp_path: Path, capsys) -> None:
    """`sftdata show OUT --row i` prints row i of a run's output as JSON."""
    write_jsonl(tmp_path / "rows.jsonl", [{"text": f"row {i}"} for i in range(3)])
    _cli(capsys, "run", str(write_spec(tmp_path, text_spec())), "--no-progress")
    rc, out, _ = _cli(capsys, "show", str(tmp_path / "out" / "data"), "--row", "2")
    assert rc == 0 and json.loads(out) == {"text": "row 2", "source": "test"}
    rc, _, err = _cli(capsys, "show", str(tmp_path / "out" / "data"), "--row", "9")
    assert rc == 2 and "out of range" in err


def _slow_spec(folder: Path) -> Path:
    if not (folder / "rows.jsonl").exists():
        write_jsonl(folder / "rows.jsonl", [{"text": f"document number {i}"} for i in range(48)])
    steps = f"  - {STEPS}:Upper: {{sleep: 0.25}}\n  - {STEPS}:MinLength: {{chars: 18}}\n"
    return write_spec(
        folder, text_spec(steps=steps, fmt="parquet").replace("batch_size: 3", "batch_size: 4")
    )


def _run_cli(spec: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, "-m", "sftdata.cli", "run", str(spec), "--no-progress"]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


@pytest.mark.slow
def test_sigkill_mid_run_then_rerun_gives_identical_bytes(tmp_path: Path) -> None:
    """A run killed with SIGKILL and rerun writes the same bytes as an uninterrupted run."""
    ref, crash = tmp_path / "ref", tmp_path / "crash"
    ref.mkdir(), crash.mkdir()
    assert _run_cli(_slow_spec(ref)).wait(timeout=120) == 0

    proc = _run_cli(_slow_spec(crash))
    work = crash / "out" / ".data.work"
    deadline = time.time() + 60
    while len(list(work.glob("01-map-*/part-*.parquet"))) < 3 and time.time() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert not (crash / "out" / "data" / "manifest.json").exists()
    finished = {p: p.stat().st_mtime_ns for p in work.glob("01-map-*/part-*.parquet")}
    assert 3 <= len(finished) < 10, "the run should have been killed mid-stage"
    for p in finished:  # every visible part is complete: no half-written shard under a final name
        pq.read_table(p)

    rerun = _run_cli(_slow_spec(crash))
    out, err = rerun.communicate(timeout=120)
    assert rerun.returncode == 0, err.decode()
    assert b"reused finished work: input, " in out and b" parts)" in out
    assert {p: p.stat().st_mtime_ns for p in finished} == finished  # finished parts were reused
    assert folder_bytes(crash / "out") == folder_bytes(ref / "out")


def test_stats_reports_on_a_run_output(tmp_path: Path, capsys) -> None:
    """`sftdata stats OUT --out DIR` prints sd.stats.report's markdown (of the whole output,
    here 3 shards measured one by one) and saves it with plots."""
    write_jsonl(tmp_path / "rows.jsonl", [{"text": "word " * (i % 9 + 1)} for i in range(20)])
    _cli(capsys, "run", str(write_spec(tmp_path, text_spec())), "--no-progress")
    rc, out, _ = _cli(
        capsys, "stats", str(tmp_path / "out" / "data"), "--out", str(tmp_path / "rep")
    )
    assert rc == 0
    expected = sd.stats.report(load_dataset_any(tmp_path / "out" / "data")).to_markdown()
    assert out.strip() == expected.strip()
    assert (tmp_path / "rep" / "report.md").read_text() == expected
    assert json.loads((tmp_path / "rep" / "report.json").read_text())


def test_demo_hands_its_options_to_sfttrain(capsys) -> None:
    """`sftdata demo --help` reaches sfttrain's own demo parser, options and all."""
    with pytest.raises(SystemExit) as e:
        main(["demo", "--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    assert "sfttrain demo" in out and "--steps" in out
