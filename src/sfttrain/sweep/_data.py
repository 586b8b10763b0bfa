"""Data variants: the sweep's pipeline with a variant's ``pipeline.*`` keys applied.

Each distinct pipeline is prepared once, by ``sftdata run``, into
``SWEEP/data/<fingerprint>/``; every training variant on it reads the same files. The
fingerprint is the runner's own key of the last stage: a hash of the input files
(path, size, mtime) and of every step with its options, so two variants whose
pipelines differ only in where they write share one data folder, and an edited input
file gives a new one.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sfttrain.config import ConfigError
from sfttrain.sweep._spec import SweepSpec, Variant, set_dotted

DONE = "_SWEEP_DATA_DONE.json"


@dataclass(frozen=True)
class DataVariant:
    """One distinct pipeline: its fingerprint, its spec data and where its rows go."""

    fingerprint: str
    pipeline: dict[str, Any]
    folder: Path

    @property
    def done(self) -> bool:
        return (self.folder / DONE).is_file()

    def train_files(self) -> list[str]:
        """The prepared parquet parts (rows with ``messages``), in order."""
        return sorted(str(p) for p in (self.folder / "data").glob("part-*.parquet"))


def pipeline_for(spec: SweepSpec, variant: Variant) -> dict[str, Any] | None:
    """The sweep's pipeline with the variant's ``pipeline.*`` settings applied."""
    if spec.pipeline is None:
        return None
    data = copy.deepcopy(spec.pipeline)
    for key, value in variant.settings.items():
        if key.startswith("pipeline."):
            apply_key(data, key.removeprefix("pipeline."), value)
    return data


def apply_key(data: dict[str, Any], key: str, value: Any) -> None:
    """Apply one swept pipeline key to spec ``data`` in place.

    >>> d = {"inputs": [{"path": "a", "source": "x"}], "steps": ["clean.fix_text", {"dedup.minhash": {"threshold": 0.8}}]}
    >>> apply_key(d, "steps.dedup.minhash.threshold", 0.7); d["steps"][1]
    {'dedup.minhash': {'threshold': 0.7}}
    >>> apply_key(d, "steps.clean.fix_text", False); d["steps"]
    [{'dedup.minhash': {'threshold': 0.7}}]
    >>> apply_key(d, "inputs.x", False); d["inputs"]
    []
    """
    if key.startswith("steps."):
        _apply_step(data, key.removeprefix("steps."), value)
    elif key.startswith("inputs."):
        source = key.removeprefix("inputs.")
        if not isinstance(value, bool):
            raise ConfigError(f"pipeline.{key}: expected true/false, got {value!r}")
        known = [i.get("source") for i in data["inputs"] if isinstance(i, dict)]
        if source not in known:
            raise ConfigError(f"pipeline.{key}: no input with source {source!r}; known: {known}")
        if not value:
            data["inputs"] = [
                i for i in data["inputs"] if not (isinstance(i, dict) and i.get("source") == source)
            ]
    else:
        set_dotted(data, key, value)


def _step_name(entry: Any) -> str:
    return entry if isinstance(entry, str) else next(iter(entry))


def _apply_step(data: dict[str, Any], rest: str, value: Any) -> None:
    steps = list(data.get("steps") or [])
    names = [_step_name(s) for s in steps]
    # the longest step name that prefixes `rest` (step names hold dots themselves)
    match = max((n for n in names if rest == n or rest.startswith(n + ".")), key=len, default=None)
    if match is None:
        raise ConfigError(f"pipeline.steps.{rest}: no step of that name; steps: {names}")
    i = names.index(match)
    option = rest[len(match) + 1 :]
    if option:
        opts = dict(steps[i][match] or {}) if isinstance(steps[i], dict) else {}
        opts[option] = value
        steps[i] = {match: opts}
    elif value is False or value is None:
        steps.pop(i)
    elif isinstance(value, dict):
        steps[i] = {match: value}
    elif value is not True:
        raise ConfigError(
            f"pipeline.steps.{rest}: expected true/false or a mapping of options, got {value!r}"
        )
    data["steps"] = steps


def data_variant(spec: SweepSpec, pipeline: dict[str, Any]) -> DataVariant:
    """Validate ``pipeline`` with the runner and fingerprint it (no rows are read)."""
    from sftdata import SftDataError
    from sftdata.runner import make_plan
    from sftdata.runner._spec import Located, parse_spec

    probe = spec.out / "data" / "_probe"
    full = {**pipeline, "output": {"path": str(probe / "data"), "format": "parquet"}}
    try:
        plan = make_plan(parse_spec(full, Located(str(spec.file), {}), spec.pipeline_base))
    except SftDataError as e:
        raise ConfigError(f"pipeline: {e}") from None
    fingerprint = plan.stages[-1].key if plan.stages else plan.input_key
    return DataVariant(fingerprint, pipeline, spec.out / "data" / fingerprint)


def prepare_data(spec: SweepSpec, dv: DataVariant, *, progress: bool = True) -> DataVariant:
    """Run the pipeline into ``dv.folder`` unless a finished copy is there already."""
    from sftdata.runner import run as run_pipeline
    from sftdata.runner._spec import Located, parse_spec

    if dv.done:
        return dv
    folder = dv.folder
    full = {
        **dv.pipeline,
        "output": {"path": str(folder / "data"), "format": "parquet"},
        "rejects": {"path": str(folder / "rejects"), "format": "jsonl"},
        "report": {"path": str(folder / "report")},
    }
    pspec = parse_spec(full, Located(str(spec.file), {}), spec.pipeline_base)
    # one work folder for all variants: stages they share (same inputs, same steps so
    # far) are computed once
    result = run_pipeline(pspec.replace(work_dir=spec.out / "data" / ".work"), progress=progress)
    summary = {
        "fingerprint": dv.fingerprint,
        "rows_in": result.counters.rows_in,
        "kept": result.counters.kept,
        "dropped": dict(result.counters.dropped),
        "pipeline": dv.pipeline,
    }
    tmp = folder / f".{DONE}.tmp"
    tmp.write_text(json.dumps(summary, indent=2, default=str), encoding="utf-8")
    tmp.replace(folder / DONE)
    print(f"sfttrain sweep: data {dv.fingerprint}: {summary['kept']} rows kept", flush=True)
    return dv


def data_summary(dv: DataVariant) -> dict[str, Any]:
    """What ``prepare_data`` recorded (rows in, kept, dropped by reason)."""
    return dict(json.loads((dv.folder / DONE).read_text(encoding="utf-8")))
