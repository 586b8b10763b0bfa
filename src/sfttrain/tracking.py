"""``trackers: [mlflow]`` and ``trackers: [wandb]``: what a run logs, and where.

Both log the same things, from the main process only:

- params: the flattened config (``lora.r``, ``learning_rate``, ...), ``data.fingerprint``
  (the prepared training rows' ``datasets`` fingerprint), ``data.rows``,
  ``sftdata.version`` and ``git.commit`` (of the code that trained, when it sits in a
  git checkout);
- metrics: every logging step (loss, learning rate, tokens/s, ...) at its step;
- artifacts: ``sfttrain_config.yaml``, the data report (``data_report.json``: rows per
  stage, dropped rows per reason) and, from a sweep, the evaluation results.

MLflow writes to ``tracking.mlflow_uri`` (default ``sqlite:///<output_dir>/mlflow.db``);
its run id is kept in ``<output_dir>/mlflow_run.json`` so a resumed run logs into the
same MLflow run. W&B runs offline by default, under ``<output_dir>/wandb``.
"""

from __future__ import annotations

import json
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

from transformers import TrainerCallback

from sfttrain.config import TrainConfig

MLFLOW_RUN_FILE = "mlflow_run.json"
DATA_REPORT = "data_report.json"


def flatten(data: Any, prefix: str = "") -> dict[str, str]:
    """``{"lora": {"r": 8}}`` -> ``{"lora.r": "8"}`` (lists as JSON).

    >>> flatten({"lora": {"r": 8, "target_modules": ["q_proj"]}, "seed": 0})
    {'lora.r': '8', 'lora.target_modules': '["q_proj"]', 'seed': '0'}
    """
    out: dict[str, str] = {}
    if isinstance(data, dict):
        for k, v in data.items():
            out.update(flatten(v, f"{prefix}{k}."))
        return out
    value = data if isinstance(data, str) else json.dumps(data, default=str)
    out[prefix.rstrip(".")] = value
    return out


def git_commit() -> str | None:
    """The commit of the checkout this package runs from, or ``None`` outside git."""
    try:
        out = subprocess.run(
            ["git", "-C", str(Path(__file__).parent), "rev-parse", "HEAD"],
            capture_output=True, text=True, timeout=10, check=False,
        )  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def run_params(cfg: TrainConfig, prepared: Any) -> dict[str, str]:
    """Everything a tracker records as the run's parameters."""
    import sftdata

    params = flatten(cfg.to_dict())
    train = getattr(prepared, "train", prepared)  # a Prepared, or the training rows themselves
    params["data.fingerprint"] = str(getattr(train, "_fingerprint", None))
    if hasattr(train, "__len__"):
        params["data.rows"] = str(len(train))
    params["sftdata.version"] = sftdata.__version__
    commit = git_commit()
    if commit:
        params["git.commit"] = commit
    return params


def write_data_report(cfg: TrainConfig, prepared: Any) -> Path:
    """``<output_dir>/data_report.json``: rows per stage and dropped rows per reason."""
    out = Path(cfg.output_dir) / DATA_REPORT
    out.parent.mkdir(parents=True, exist_ok=True)
    report = {
        "counts": getattr(prepared, "counts", None),
        "dropped": getattr(prepared, "dropped", None),
        "pack_efficiency": getattr(prepared, "pack_efficiency", None),
    }
    out.write_text(json.dumps(report, indent=2), encoding="utf-8")
    return out


def _numbers(logs: dict[str, Any]) -> dict[str, float]:
    return {
        k: float(v)
        for k, v in logs.items()
        if isinstance(v, (int, float)) and not isinstance(v, bool)
    }


class MlflowTracker(TrainerCallback):
    """Log params, metrics and artifacts of a run to MLflow (nested when a parent is set)."""

    def __init__(self, cfg: TrainConfig, prepared: Any) -> None:
        self.cfg, self.prepared = cfg, prepared
        self.client: Any = None
        self.run_id: str | None = None

    def on_train_begin(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
        if not state.is_world_process_zero:
            return
        self.client, self.run_id, fresh = open_run(self.cfg)
        if fresh:
            from mlflow.entities import Param

            params = [Param(k, v[:6000]) for k, v in run_params(self.cfg, self.prepared).items()]
            for i in range(0, len(params), 100):
                self.client.log_batch(self.run_id, params=params[i : i + 100])

    def on_log(self, args: Any, state: Any, control: Any, logs: Any = None, **kw: Any) -> None:
        if self.run_id is None or not logs:
            return
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        metrics = [Metric(k, v, now, state.global_step) for k, v in _numbers(logs).items()]
        self.client.log_batch(self.run_id, metrics=metrics)

    def on_train_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
        if self.run_id is None:
            return
        out = Path(self.cfg.output_dir)
        self.client.log_artifact(self.run_id, str(write_data_report(self.cfg, self.prepared)))
        config = out / "sfttrain_config.yaml"
        if config.is_file():
            self.client.log_artifact(self.run_id, str(config))
        self.client.set_terminated(self.run_id, "FINISHED")


def mlflow_uri(cfg: TrainConfig) -> str:
    return cfg.tracking.mlflow_uri or f"sqlite:///{Path(cfg.output_dir).resolve() / 'mlflow.db'}"


def open_run(cfg: TrainConfig) -> tuple[Any, str, bool]:
    """``(client, run_id, fresh)``: the run recorded in ``output_dir`` (a resumed
    training), else a new one, nested under ``tracking.parent_run_id`` when set."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=mlflow_uri(cfg))
    record = Path(cfg.output_dir) / MLFLOW_RUN_FILE
    if record.is_file():
        run_id = json.loads(record.read_text(encoding="utf-8"))["run_id"]
        client.update_run(run_id, status="RUNNING")
        return client, run_id, False
    tags = {"mlflow.parentRunId": cfg.tracking.parent_run_id} if cfg.tracking.parent_run_id else {}
    exp = _experiment(client, cfg.tracking.experiment, mlflow_uri(cfg))
    run = client.create_run(exp, run_name=cfg.tracking.run_name, tags=tags)
    record.parent.mkdir(parents=True, exist_ok=True)
    record.write_text(
        json.dumps({"run_id": run.info.run_id, "tracking_uri": mlflow_uri(cfg)}), encoding="utf-8"
    )
    return client, run.info.run_id, True


def _experiment(client: Any, name: str, uri: str) -> str:
    """The experiment's id; a new one keeps its artifacts beside a sqlite store
    (``<db folder>/mlartifacts``) rather than in ``./mlruns`` of the working directory."""
    exp = client.get_experiment_by_name(name)
    if exp is not None:
        return str(exp.experiment_id)
    location = None
    if uri.startswith("sqlite:///"):
        location = (Path(uri.removeprefix("sqlite:///")).parent / "mlartifacts").resolve().as_uri()
    return str(client.create_experiment(name, artifact_location=location))


def log_to_finished_run(run_dir: Path, metrics: dict[str, float], files: list[Path]) -> None:
    """Add evaluation metrics and files to the MLflow run recorded in ``run_dir``."""
    from mlflow.entities import Metric
    from mlflow.tracking import MlflowClient

    rec = json.loads((run_dir / MLFLOW_RUN_FILE).read_text(encoding="utf-8"))
    client = MlflowClient(tracking_uri=rec["tracking_uri"])
    now = int(time.time() * 1000)
    client.log_batch(
        rec["run_id"], metrics=[Metric(f"eval/{k}", float(v), now, 0) for k, v in metrics.items()]
    )
    for f in files:
        if f.is_file():
            client.log_artifact(rec["run_id"], str(f))


def sweep_parent_run(sweep_dir: Path, *, name: str, params: dict[str, Any]) -> str:
    """The sweep's parent MLflow run in ``sqlite:///SWEEP/mlflow.db`` (reused on a rerun)."""
    from mlflow.tracking import MlflowClient

    record = sweep_dir / MLFLOW_RUN_FILE
    if record.is_file():
        return str(json.loads(record.read_text(encoding="utf-8"))["run_id"])
    uri = f"sqlite:///{sweep_dir.resolve() / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri)
    run = client.create_run(_experiment(client, name, uri), run_name=f"sweep {name}")
    for k, v in flatten({"grid": params}).items():
        client.log_param(run.info.run_id, k, v[:6000])
    record.write_text(
        json.dumps({"run_id": run.info.run_id, "tracking_uri": uri}), encoding="utf-8"
    )
    return str(run.info.run_id)


class WandbTracker(TrainerCallback):
    """Log params, metrics and artifacts to Weights & Biases (offline by default)."""

    def __init__(self, cfg: TrainConfig, prepared: Any) -> None:
        self.cfg, self.prepared = cfg, prepared
        self.run: Any = None

    def on_train_begin(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
        if not state.is_world_process_zero:
            return
        import wandb

        out = Path(self.cfg.output_dir).resolve()
        id_file = out / "wandb_run_id"
        run_id = id_file.read_text().strip() if id_file.is_file() else uuid.uuid4().hex[:8]
        id_file.write_text(run_id)
        self.run = wandb.init(
            project=self.cfg.tracking.wandb_project, name=self.cfg.tracking.run_name,
            id=run_id, resume="allow", dir=str(out), mode=self.cfg.tracking.wandb_mode,
            config=run_params(self.cfg, self.prepared), reinit="create_new",
        )  # fmt: skip

    def on_log(self, args: Any, state: Any, control: Any, logs: Any = None, **kw: Any) -> None:
        if self.run is not None and logs:
            self.run.log(_numbers(logs), step=state.global_step)

    def on_train_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
        if self.run is None:
            return
        out = Path(self.cfg.output_dir).resolve()
        write_data_report(self.cfg, self.prepared)
        for name in (DATA_REPORT, "sfttrain_config.yaml"):
            if (out / name).is_file():
                self.run.save(str(out / name), base_path=str(out), policy="now")
        self.run.finish()
        self.run = None


def run_callbacks(cfg: TrainConfig, prepared: Any) -> list[TrainerCallback]:
    """What every stage's trainer logs through: ``metrics.jsonl`` (tracker ``jsonl``),
    ``progress.json`` (read by ``sfttrain status``) and the mlflow / wandb trackers.
    ``prepared`` is the stage's data: a :class:`~sfttrain.Prepared`, or its rows."""
    from sfttrain._trainer import JsonlLogger, ProgressFile

    out: list[TrainerCallback] = []
    if "jsonl" in cfg.trackers:
        out.append(JsonlLogger(Path(cfg.output_dir) / "metrics.jsonl"))
    return [*out, ProgressFile(cfg.output_dir), *tracker_callbacks(cfg, prepared)]


def tracker_callbacks(cfg: TrainConfig, prepared: Any) -> list[TrainerCallback]:
    """The callbacks for ``cfg.trackers`` that sfttrain logs itself (mlflow, wandb)."""
    out: list[TrainerCallback] = []
    if "mlflow" in cfg.trackers:
        out.append(MlflowTracker(cfg, prepared))
    if "wandb" in cfg.trackers:
        out.append(WandbTracker(cfg, prepared))
    return out
