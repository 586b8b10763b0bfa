"""``sftdata run``: a YAML pipeline run locally or on Ray, resumable, with rejects and counts.

>>> import tempfile, pathlib, json
>>> from sftdata.runner import load_spec, run
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> _ = (d / "rows.jsonl").write_text('{"text": "hello"}\\n{"text": "oops"\\n')
>>> _ = (d / "p.yaml").write_text(
...     "inputs: [rows.jsonl]\\n"
...     "output: {path: out, format: jsonl}\\n"
...     "rejects: {path: rejects, format: jsonl}\\n")
>>> result = run(load_spec(d / "p.yaml"), progress=False)
>>> (d / "out" / "part-00000.jsonl").read_text()
'{"text": "hello"}\\n'
>>> json.loads((d / "rejects" / "part-00000.jsonl").read_text())["drop_reason"]
'input.bad_json'
>>> result.counters
Counters(rows_in=2, kept=1, dropped={'input.bad_json': 1})
"""

from __future__ import annotations

from typing import Literal

from sftdata.runner._plan import Plan, describe, make_plan
from sftdata.runner._registry import StepInfo, available_steps, resolve_step
from sftdata.runner._run import RunResult, execute
from sftdata.runner._spec import PipelineSpec, SpecError, load_spec

__all__ = [
    "PipelineSpec",
    "Plan",
    "RunResult",
    "SpecError",
    "StepInfo",
    "available_steps",
    "describe",
    "load_spec",
    "make_plan",
    "resolve_step",
    "run",
]


def run(
    spec: PipelineSpec,
    *,
    engine: Literal["local", "ray"] = "local",
    num_proc: int | None = None,
    progress: bool = True,
) -> RunResult:
    """Validate every step of ``spec``, then run it; finished work is reused on a rerun."""
    if engine not in ("local", "ray"):
        raise SpecError(f"engine must be 'local' or 'ray', got {engine!r}")
    if num_proc is not None and (isinstance(num_proc, bool) or num_proc < 1):
        raise SpecError(f"num_proc must be a positive integer, got {num_proc!r}")
    return execute(make_plan(spec), engine=engine, num_proc=num_proc, progress=progress)
