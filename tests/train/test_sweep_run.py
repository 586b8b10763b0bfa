"""A real sweep: killed with SIGKILL after its first run, started again, it runs only the
missing runs; the report and the MLflow parent / child runs come out of it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from .conftest import OVERFIT_CHATS

pytestmark = pytest.mark.slow


def _write_sweep(tmp_path: Path, model_dir: Path) -> Path:
    rows = [{"messages": m} for m in OVERFIT_CHATS * 3]  # every chat three times: dedup matters
    (tmp_path / "chats.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    held = [{"messages": m} for m in OVERFIT_CHATS[:4]]
    (tmp_path / "held.jsonl").write_text("\n".join(json.dumps(r) for r in held) + "\n")
    spec = {
        "out": "sweep",
        "base": {
            "model": str(model_dir),
            "template": "llama2",
            "method": "lora",
            "max_steps": 3,
            "batch_size": 4,
            "logging_steps": 1,
            "save_steps": 2,
            "learning_rate": 1e-2,
            "packing": False,
            "progress_bar": False,
            "lora": {"r": 8, "alpha": 16, "dropout": 0.0},
        },
        "pipeline": {
            "inputs": [{"path": "chats.jsonl", "source": "chats"}],
            "steps": ["clean.fix_text", "dedup.exact"],
            "options": {"batch_size": 64},
        },
        "eval": {"heldout": "held.jsonl"},
        "grid": {"pipeline.steps.dedup.exact": [True, False]},
        "seeds": [0, 1],
        "baseline": {"pipeline.steps.dedup.exact": True},
        "trackers": ["jsonl", "mlflow"],
    }
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def _kill_after_first_run(config: Path, sweep: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2] / "src")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "sfttrain.cli", "sweep", str(config)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    deadline = time.time() + 400
    try:
        while time.time() < deadline and proc.poll() is None:
            if list(sweep.glob("runs/*/sweep_result.json")):
                break
            time.sleep(0.2)
        assert proc.poll() is None, proc.stderr.read().decode()[-3000:] if proc.stderr else ""
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
    assert proc.returncode == -9


def test_killed_sweep_completes_only_missing_runs(tiny_model_dir: Path, tmp_path: Path) -> None:
    """Property: after kill -9 and a restart, finished runs are not trained again, every
    run has exactly one line in results.jsonl, and the report compares all variants."""
    from mlflow.tracking import MlflowClient

    from sfttrain.sweep import load_sweep, read_results, run_sweep, write_report

    config = _write_sweep(tmp_path, tiny_model_dir)
    sweep = tmp_path / "sweep"
    _kill_after_first_run(config, sweep)
    first = {p.parent.name: p.read_bytes() for p in sweep.glob("runs/*/sweep_result.json")}
    curves = {r: (sweep / "runs" / r / "metrics.jsonl").read_text() for r in first}
    assert len(first) >= 1
    run_sweep(load_sweep(config), parallel=2, progress=False)  # the rest in 2 processes
    records = read_results(sweep)
    lines = (sweep / "results.jsonl").read_text().splitlines()
    assert len(records) == 4 == len(lines)
    for run, blob in first.items():  # untouched: not trained, evaluated or logged again
        assert (sweep / "runs" / run / "sweep_result.json").read_bytes() == blob
        assert (sweep / "runs" / run / "metrics.jsonl").read_text() == curves[run]
    assert len(list(sweep.glob("data/*/_SWEEP_DATA_DONE.json"))) == 2  # two data variants
    kept = {json.loads(p.read_text())["kept"] for p in sweep.glob("data/*/_SWEEP_DATA_DONE.json")}
    assert kept == {len(OVERFIT_CHATS), 3 * len(OVERFIT_CHATS)}
    _check_report(sweep, records)
    _check_mlflow(MlflowClient(f"sqlite:///{sweep / 'mlflow.db'}"), sweep, records)
    before = (sweep / "results.jsonl").read_bytes()
    run_sweep(load_sweep(config), progress=False)  # a third start has nothing to do
    assert (sweep / "results.jsonl").read_bytes() == before
    write_report(sweep)
    from sfttrain._jobs import format_status, status

    info = status(sweep)
    assert (info["runs"], info["finished"]) == (4, 4)
    assert "4/4 runs finished" in format_status(info)


def _check_report(sweep: Path, records: list[dict[str, Any]]) -> None:
    from sfttrain.sweep import write_report

    report = write_report(sweep).read_text()
    assert "mean ± std" in report and "paired bootstrap" in report
    assert "pipeline.steps.dedup.exact=False | heldout_loss" in report  # the delta row
    csv_lines = (sweep / "results.csv").read_text().splitlines()
    assert len(csv_lines) == 1 + len(records) and "heldout_loss" in csv_lines[0]
    assert (sweep / "plots" / "loss_curves.png").stat().st_size > 1000
    assert (sweep / "plots" / "heldout_loss_vs_pipeline.steps.dedup.exact.png").is_file()


def _check_mlflow(client: Any, sweep: Path, records: list[dict[str, Any]]) -> None:
    parent = json.loads((sweep / "mlflow_run.json").read_text())["run_id"]
    exp = client.get_experiment_by_name("sweep")
    runs = client.search_runs([exp.experiment_id])
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent]
    assert {r.info.run_name for r in children} == {rec["run"] for rec in records}
    by_name = {r.info.run_name: r for r in children}
    for rec in records:
        run = by_name[rec["run"]]
        assert run.data.params["seed"] == str(rec["seed"])
        assert run.data.params["sftdata.version"]
        assert len(run.data.params["data.fingerprint"]) > 8
        assert run.data.metrics["eval/heldout_loss"] == pytest.approx(
            rec["metrics"]["heldout_loss"]
        )
        losses = client.get_metric_history(run.info.run_id, "loss")
        # a run cut by the kill logs the steps after its checkpoint again when it resumes
        assert sorted({m.step for m in losses}) == [1, 2, 3]
        names = {a.path for a in client.list_artifacts(run.info.run_id)}
        assert {"sfttrain_config.yaml", "data_report.json", "eval_items.json"} <= names
        assert run.info.status == "FINISHED"
