"""MLflow and W&B (offline) read back with their own client / record schema; a detached
training run followed by ``sfttrain status``."""

from __future__ import annotations

import json
import struct
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from sfttrain import Prepared

from .conftest import OVERFIT_CHATS, base_config, encoded_rows

pytestmark = pytest.mark.slow


def _wandb_records(path: Path) -> list[Any]:
    """The records of a ``.wandb`` transaction log, parsed with wandb's own protobuf schema.

    The file is a 7-byte header (``:W&B``, magic, version) and LevelDB-log records in
    32 KiB blocks: crc32c (4), length (2), type (1: full, 2: first, 3: middle, 4: last).
    """
    from wandb.proto import wandb_internal_pb2 as pb

    data = path.read_bytes()
    assert data[:4] == b":W&B"
    pos, block, pending, out = 7, 32768, b"", []
    while pos + 7 <= len(data):
        left = block - pos % block
        if left < 7:
            pos += left
            continue
        _, length, kind = struct.unpack("<IHB", data[pos : pos + 7])
        chunk = data[pos + 7 : pos + 7 + length]
        pos += 7 + length
        if kind in (1, 2):
            pending = chunk
        elif kind in (3, 4):
            pending += chunk
        if kind in (1, 4):
            rec = pb.Record()
            rec.ParseFromString(pending)
            out.append(rec)
    return out


def test_mlflow_and_wandb_offline_read_back(
    tiny_model_dir: Path, tiny_tokenizer: Any, tmp_path: Path
) -> None:
    """Property: params (flattened config, data fingerprint, sftdata version, git commit),
    every logged loss at its step and the artifacts are in both trackers' own stores."""
    from mlflow.tracking import MlflowClient

    import sftdata
    from sfttrain import train
    from sfttrain.tracking import git_commit

    uri = f"sqlite:///{tmp_path / 'ml.db'}"
    cfg = base_config(
        tiny_model_dir, tmp_path / "run", trackers=["jsonl", "mlflow", "wandb"], max_steps=4,
        logging_steps=1, tracking={"mlflow_uri": uri, "experiment": "t", "run_name": "r1"},
    )  # fmt: skip
    result = train(cfg, prepared=Prepared(encoded_rows(tiny_tokenizer), None))
    client = MlflowClient(uri)
    run_id = json.loads((tmp_path / "run" / "mlflow_run.json").read_text())["run_id"]
    run = client.get_run(run_id)
    p = run.data.params
    assert p["lora.r"] == "8" and p["method"] == "lora" and p["max_steps"] == "4"
    assert p["sftdata.version"] == sftdata.__version__
    assert len(p["data.fingerprint"]) >= 16 and p["data.rows"] == "12"
    commit = git_commit()
    assert commit is None or p["git.commit"] == commit
    history = client.get_metric_history(run_id, "loss")
    assert [m.step for m in history] == [1, 2, 3, 4]
    assert [m.value for m in history] == pytest.approx(list(result.losses), rel=1e-6)
    names = {a.path for a in client.list_artifacts(run_id)}
    assert {"sfttrain_config.yaml", "data_report.json"} <= names
    assert run.info.status == "FINISHED" and run.info.run_name == "r1"
    _check_wandb(tmp_path / "run", result.losses)


def _check_wandb(out: Path, losses: tuple[float, ...]) -> None:
    (log,) = (out / "wandb").glob("offline-run-*/run-*.wandb")
    records = _wandb_records(log)
    config = {}  # the run record carries the config; later config records update it
    for r in records:
        updates = r.run.config.update if r.HasField("run") else r.config.update
        config.update({i.key: json.loads(i.value_json) for i in updates})
    assert config["lora.r"] == "8" and config["sftdata.version"]
    history = [  # one record per step; keys may come as nested_key
        (r.history.step.num, {i.key or "/".join(i.nested_key): json.loads(i.value_json)
                              for i in r.history.item})
        for r in records
        if r.HasField("history")
    ]  # fmt: skip
    logged = [(step, h["loss"]) for step, h in history if "loss" in h]
    assert [s for s, _ in logged] == [1, 2, 3, 4]
    assert [v for _, v in logged] == pytest.approx(list(losses), rel=1e-6)
    saved = {f.path for r in records if r.HasField("files") for f in r.files.files}
    assert {"sfttrain_config.yaml", "data_report.json"} <= saved


def test_detached_train_and_status(tiny_model_dir: Path, tmp_path: Path) -> None:
    """Property: --detach returns at once with a live pid; the run finishes on its own,
    its log and status (step, last metrics, process gone) are in the run folder."""
    from sfttrain._jobs import PID_FILE, alive, format_status, status

    data = tmp_path / "chats.jsonl"
    data.write_text("\n".join(json.dumps({"messages": m}) for m in OVERFIT_CHATS * 2) + "\n")
    cfg = base_config(tiny_model_dir, tmp_path / "run", train_files=[str(data)], max_steps=4)
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump(cfg.to_dict()))
    src = str(Path(__file__).parents[2] / "src")
    cmd = [sys.executable, "-m", "sfttrain.cli", "train", str(config), "--detach"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=120,
                         env={"PYTHONPATH": src, "PATH": "/usr/bin:/bin"})  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "sfttrain status" in out.stdout and "tail -f" in out.stdout
    pid = int((tmp_path / "run" / PID_FILE).read_text())
    assert alive(pid)
    deadline = time.time() + 400
    while alive(pid) and time.time() < deadline:
        time.sleep(0.5)
    info = status(tmp_path / "run")
    assert info["final"] and info["step"] == 4 == info["max_steps"] and info["finished"]
    assert "not running" in info["process"]
    assert info["last_metrics"]["step"] == 4 and "loss" in info["last_metrics"]
    assert "sfttrain: 4 steps" in (tmp_path / "run" / "sfttrain.log").read_text()
    assert "step 4/4" in format_status(info)
