"""Running a sweep: plan the runs, prepare each data variant once, train + evaluate the
runs not finished yet, append each result to ``SWEEP/results.jsonl``.

::

    SWEEP/
      sweep.json                 the sweep as run: axes, variants, run folders
      data/<fingerprint>/        one prepared data variant (data/, rejects/, report/)
      runs/<variant>-s<seed>/    one training run (the usual run folder) + sweep_result.json
      results.jsonl              one line per finished run
      mlflow.db                  with `trackers: [mlflow]`: the sweep's parent run and a
                                 child run per training run

A run is finished once ``sweep_result.json`` is in its folder (written last, by an
atomic rename). Started again, a sweep skips finished runs; a run killed half way
resumes from its newest complete checkpoint (``resume: auto``); a finished run missing
from ``results.jsonl`` (killed in between) is appended again.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sfttrain.sweep._data import DataVariant, data_variant, pipeline_for, prepare_data
from sfttrain.sweep._eval import check_eval, evaluate_run
from sfttrain.sweep._spec import SweepSpec, short_hash, train_config

RESULTS = "results.jsonl"
RUN_DONE = "sweep_result.json"


@dataclass(frozen=True)
class RunJob:
    """One training run of the sweep (plain data, so it pickles to a worker process)."""

    run_id: str
    variant_id: str
    seed: int
    settings: dict[str, Any]
    run_dir: str
    config: dict[str, Any]
    data_folder: str | None
    data_fingerprint: str | None
    eval: dict[str, Any]
    suite: Any
    keep_checkpoints: bool = False

    @property
    def done(self) -> bool:
        return (Path(self.run_dir) / RUN_DONE).is_file()


def plan_runs(spec: SweepSpec) -> tuple[list[DataVariant], list[RunJob]]:
    """Every data variant and every run, named by hashes of their settings (no work done)."""
    datas: dict[str, DataVariant] = {}
    jobs = []
    for variant in spec.variants:
        pipeline = pipeline_for(spec, variant)
        dv = None
        if pipeline is not None:
            dv = data_variant(spec, pipeline)
            datas.setdefault(dv.fingerprint, dv)
        fp = dv.fingerprint if dv else None
        cfg = train_config(spec, variant, train_files=[f"<data {fp}>"], output_dir="<run>")
        shape = {k: v for k, v in cfg.to_dict().items() if k not in ("output_dir", "seed")}
        if dv is None:  # the files themselves: an edited file is a new variant
            shape["train_files_stat"] = [_stat(f) for f in cfg.train_files]
        variant_id = short_hash(shape, fp, spec.eval, spec.suite)
        run_id = f"{variant_id}-s{variant.seed}"
        run_dir = spec.out / "runs" / run_id
        data = cfg.to_dict()
        data["output_dir"] = str(run_dir)
        jobs.append(
            RunJob(
                run_id,
                variant_id,
                variant.seed,
                dict(variant.settings),
                str(run_dir),
                data,
                str(dv.folder) if dv else None,
                fp,
                spec.eval,
                spec.suite,
                spec.keep_checkpoints,
            )
        )
    return list(datas.values()), jobs


def _stat(f: Any) -> list[Any]:
    path = Path(f if isinstance(f, str) else f.path)
    st = path.stat() if path.exists() else None
    return [str(path), st.st_size if st else None, st.st_mtime_ns if st else None]


def run_sweep(
    spec: SweepSpec, *, parallel: int | None = None, progress: bool = True
) -> list[dict[str, Any]]:
    """Run every unfinished run of ``spec``; returns the records of all finished runs."""
    check_eval(spec.eval, spec.suite)
    datas, jobs = plan_runs(spec)
    spec.out.mkdir(parents=True, exist_ok=True)
    _write_plan(spec, jobs)
    if spec.tiny_model is not None and not (spec.tiny_model / "config.json").is_file():
        _build_tiny(spec.tiny_model)
    _reconcile(spec.out, jobs)
    todo = [j for j in jobs if not j.done]
    print(f"sfttrain sweep: {len(jobs)} runs, {len(jobs) - len(todo)} finished already, "
          f"{len(todo)} to run, {len(datas)} data variant(s)", flush=True)  # fmt: skip
    needed = {j.data_fingerprint for j in todo}
    for dv in datas:
        if dv.fingerprint in needed:
            prepare_data(spec, dv, progress=progress)
    parent = _parent_run(spec)
    jobs_to_run = [_with_tracking(j, spec, parent) for j in todo]
    n = parallel or spec.parallel
    for record in _execute(jobs_to_run, n):
        _append(spec.out / RESULTS, record)
        loss = record["metrics"].get("heldout_loss")
        shown = f"held-out loss {loss:.4f}" if loss is not None else ""
        print(f"sfttrain sweep: run {record['run']} done {shown}", flush=True)
    return read_results(spec.out)


def _execute(jobs: list[RunJob], parallel: int) -> Any:
    """Yield each job's record as it finishes: in this process, or ``parallel`` workers."""
    if parallel <= 1 or len(jobs) <= 1:
        for job in jobs:
            yield execute_job(job)
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    threads = max(1, (os.cpu_count() or 1) // parallel)
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(
        parallel, mp_context=ctx, initializer=_worker_init, initargs=(threads,)
    ) as pool:
        futures = [pool.submit(execute_job, j) for j in jobs]
        for fut in as_completed(futures):
            yield fut.result()


def _worker_init(threads: int) -> None:
    import torch

    torch.set_num_threads(threads)


_PREPARED: dict[str, Any] = {}


def execute_job(job: RunJob) -> dict[str, Any]:
    """Train one run (resuming if it was cut short), evaluate it, write its record."""
    from sfttrain._train import train
    from sfttrain.config import TrainConfig

    run_dir = Path(job.run_dir)
    data = dict(job.config)
    if job.data_folder is not None:
        files = sorted(str(p) for p in (Path(job.data_folder) / "data").glob("part-*.parquet"))
        data["train_files"] = [{"path": f, "parser": "openai"} for f in files]
    cfg = TrainConfig.from_dict(data)
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "sweep_run.json").write_text(
        json.dumps({"run": job.run_id, "variant": job.variant_id, "seed": job.seed,
                    "settings": job.settings, "data_fingerprint": job.data_fingerprint},
                   indent=2, default=str), encoding="utf-8")  # fmt: skip
    result = train(cfg, prepared=_prepared(cfg))
    metrics, items = evaluate_run(result.final_dir, run_dir, job.eval, job.suite)
    metrics.update(
        train_loss=result.final_loss if result.final_loss is not None else float("nan"),
        train_seconds=result.seconds,
        train_steps=float(result.steps),
    )
    (run_dir / "eval_items.json").write_text(json.dumps(items), encoding="utf-8")
    record = {
        "run": job.run_id,
        "variant": job.variant_id,
        "seed": job.seed,
        "settings": job.settings,
        "data_fingerprint": job.data_fingerprint,
        "metrics": metrics,
        "finished": time.time(),
    }
    _log_eval_to_trackers(cfg, run_dir, metrics)
    tmp = run_dir / f".{RUN_DONE}.tmp"
    tmp.write_text(json.dumps(record, default=str), encoding="utf-8")
    tmp.replace(run_dir / RUN_DONE)
    if not job.keep_checkpoints:  # they only serve a resume; final/ stays
        import shutil

        for ckpt in run_dir.glob("checkpoint-*"):
            shutil.rmtree(ckpt, ignore_errors=True)
    return record


def _prepared(cfg: Any) -> Any:
    """Encoded rows for ``cfg``, shared by runs in this process that read the same data
    with the same tokenizer, template and encoding options (one cache entry)."""
    from sfttrain._data import get_template, prepare
    from sfttrain._model import load_tokenizer

    d = cfg.to_dict()
    keys: tuple[str, ...] = (
        "train_files",
        "eval_files",
        "parser",
        "pipeline",
        "dedup",
        "max_length",
    )
    keys += ("packing", "loss_on", "template", "model", "tokenizer", "trust_remote_code")
    key = json.dumps([d[k] for k in keys], default=str)
    if key not in _PREPARED:
        cfg.check_paths()
        tok = load_tokenizer(cfg.tokenizer_path, trust_remote_code=cfg.trust_remote_code)
        _PREPARED.clear()
        _PREPARED[key] = prepare(cfg, tok, get_template(cfg.template, tok))
    return _PREPARED[key]


def _log_eval_to_trackers(cfg: Any, run_dir: Path, metrics: dict[str, float]) -> None:
    if "mlflow" in cfg.trackers:
        from sfttrain.tracking import log_to_finished_run

        log_to_finished_run(run_dir, metrics, [run_dir / "eval_items.json"])


def _parent_run(spec: SweepSpec) -> str | None:
    if "mlflow" not in spec.trackers:
        return None
    from sfttrain.tracking import sweep_parent_run

    return sweep_parent_run(spec.out, name=spec.out.name, params=dict(spec.axes))


def _with_tracking(job: RunJob, spec: SweepSpec, parent: str | None) -> RunJob:
    """Name the run after its id; with mlflow, log into the sweep's store under its parent
    (a ``tracking.mlflow_uri`` / ``experiment`` set in the base config wins)."""
    if not spec.trackers:
        return job
    import dataclasses

    tracking = dict(job.config.get("tracking") or {})
    tracking["run_name"] = job.run_id
    if "mlflow" in spec.trackers:
        given = spec.base.get("tracking") or {}
        if not given.get("mlflow_uri"):
            tracking["mlflow_uri"] = f"sqlite:///{spec.out.resolve() / 'mlflow.db'}"
        if not given.get("experiment"):
            tracking["experiment"] = spec.out.name
        tracking["parent_run_id"] = parent
    return dataclasses.replace(job, config={**job.config, "tracking": tracking})


def _write_plan(spec: SweepSpec, jobs: list[RunJob]) -> None:
    plan = {
        "sweep": str(spec.file),
        "axes": spec.axes,
        "baseline": spec.baseline,
        "runs": [
            {
                "run": j.run_id,
                "variant": j.variant_id,
                "seed": j.seed,
                "settings": j.settings,
                "data_fingerprint": j.data_fingerprint,
            }
            for j in jobs
        ],
    }
    (spec.out / "sweep.json").write_text(json.dumps(plan, indent=2, default=str), encoding="utf-8")


def _build_tiny(path: Path) -> None:
    from sfttrain._demo import _sentencepiece_model
    from sfttrain._model import tiny_llama

    tiny_llama(path, tokenizer_path=_sentencepiece_model(), seed=0)


def _append(path: Path, record: dict[str, Any]) -> None:
    torn = path.is_file() and path.stat().st_size and not path.read_bytes().endswith(b"\n")
    with path.open("a", encoding="utf-8") as f:
        if torn:  # a writer killed mid-line: end that line so this record stands alone
            f.write("\n")
        f.write(json.dumps(record, default=str) + "\n")
        f.flush()
        os.fsync(f.fileno())


def read_results(sweep_dir: str | Path) -> list[dict[str, Any]]:
    """The records of ``results.jsonl``, one per run (the last line wins; a torn last line
    from a killed writer is skipped)."""
    path = Path(sweep_dir) / RESULTS
    if not path.is_file():
        return []
    by_run: dict[str, dict[str, Any]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(rec, dict) and "run" in rec:
            by_run[rec["run"]] = rec
    return list(by_run.values())


def _reconcile(out: Path, jobs: list[RunJob]) -> None:
    """Append the record of every finished run that ``results.jsonl`` lacks."""
    have = {r["run"] for r in read_results(out)}
    for job in jobs:
        if job.done and job.run_id not in have:
            rec = json.loads((Path(job.run_dir) / RUN_DONE).read_text(encoding="utf-8"))
            _append(out / RESULTS, rec)
