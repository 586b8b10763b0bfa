"""Turn a validated spec into stages: runs of map steps fused together, and global passes.

::

    steps:  parse.alpaca  clean.fix_text  clean.quality | dedup.minhash | encode
    stages: [------------ map stage 1 ----------------] [global 2    ] [map 3 ]

Each stage has a key: a hash of the inputs (paths, sizes, mtimes) and every step spec
up to and including it. A finished stage is stored under its key in the work folder,
so a rerun of the same spec reuses it and a changed step recomputes from there on.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sftdata._contract import SftDataError
from sftdata.runner._registry import StepKind, build_step, resolve_step
from sftdata.runner._spec import PipelineSpec, StepSpec

_FORMAT_VERSION = "1"


@dataclass(frozen=True)
class Stage:
    """One unit of work: several map steps, or one global pass."""

    index: int
    kind: StepKind
    names: tuple[str, ...]
    qualnames: tuple[str, ...]
    steps: tuple[Callable[..., Any], ...]
    options: tuple[dict[str, Any], ...]
    key: str

    @property
    def label(self) -> str:
        return " + ".join(self.names)


@dataclass(frozen=True)
class Plan:
    spec: PipelineSpec
    input_key: str
    stages: tuple[Stage, ...]
    work_dir: Path
    parsers: tuple[tuple[str, Callable[..., Any]] | None, ...] = ()


def _hash(*parts: Any) -> str:
    blob = json.dumps(parts, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def input_key(spec: PipelineSpec) -> str:
    """A hash of what the inputs are: path, size and mtime of every file, and how to read them."""
    files = []
    for inp in spec.inputs:
        for p in inp.paths:
            st = p.stat()
            parse = [inp.parse.name, inp.parse.options] if inp.parse else None
            files.append(
                [str(p), st.st_size, st.st_mtime_ns, inp.format, inp.source, inp.split, parse]
            )
    return _hash(_FORMAT_VERSION, files, spec.shard_rows)


def _build(spec: PipelineSpec, s: StepSpec) -> tuple[StepKind, str, Callable[..., Any]]:
    base = spec.file.resolve().parent
    try:
        info = resolve_step(s.name)
        return info.kind, info.qualname, build_step(info, s.options, base=base)
    except SftDataError as e:
        raise spec.located.error(s.key, str(e)) from None


def make_plan(spec: PipelineSpec) -> Plan:
    """Resolve and build every step (validating options) and group them into stages."""
    groups: list[list[tuple[StepSpec, StepKind, str, Callable[..., Any]]]] = []
    for s in spec.steps:
        kind, qualname, step = _build(spec, s)
        if kind == "map" and groups and groups[-1][0][1] == "map":
            groups[-1].append((s, kind, qualname, step))
        else:
            groups.append([(s, kind, qualname, step)])
    key = input_key(spec)
    stages = []
    chain = key
    for i, group in enumerate(groups, start=1):
        chain = _hash(chain, [[g[0].name, g[0].options] for g in group])
        stages.append(
            Stage(
                index=i,
                kind=group[0][1],
                names=tuple(g[0].name for g in group),
                qualnames=tuple(g[2] for g in group),
                steps=tuple(g[3] for g in group),
                options=tuple(g[0].options for g in group),
                key=chain,
            )
        )
    out = spec.output.path
    work = spec.work_dir or out.parent / f".{out.name}.work"
    return Plan(spec, key, tuple(stages), work, _parsers(spec))


def _parsers(spec: PipelineSpec) -> tuple[tuple[str, Callable[..., Any]] | None, ...]:
    """The map step each input is parsed with (``inputs[i].parse``), built and checked."""
    out: list[tuple[str, Callable[..., Any]] | None] = []
    for inp in spec.inputs:
        if inp.parse is None:
            out.append(None)
            continue
        kind, _, step = _build(spec, inp.parse)
        if kind != "map":
            raise spec.located.error(inp.parse.key, "an input's parse step must be a map step")
        out.append((inp.parse.name, step))
    return tuple(out)


def describe(plan: Plan) -> str:
    """The plan as text, for ``--dry-run``."""
    spec = plan.spec
    lines = [f"pipeline {spec.file}"]
    for inp in spec.inputs:
        src = f" (source={inp.source})" if inp.source else ""
        src += f" parse={inp.parse.name}" if inp.parse else ""
        for p in inp.paths:
            lines.append(f"  input   {p}  [{inp.format or 'auto'}]{src}")
    for st in plan.stages:
        cached = " (cached)" if (plan.work_dir / stage_dir_name(st) / "_DONE.json").exists() else ""
        lines.append(f"  stage {st.index} [{st.kind}]{cached}")
        for name, qual, opts in zip(st.names, st.qualnames, st.options, strict=True):
            lines.append(f"    - {name} -> {qual} {json.dumps(opts, default=str)}")
    lines.append(f"  output  {spec.output.path}  [{spec.output.format}]")
    if spec.rejects:
        lines.append(f"  rejects {spec.rejects.path}  [{spec.rejects.format}]")
    if spec.report:
        lines.append(f"  report  {spec.report}")
    if spec.tokenize:
        t = spec.tokenize
        how = f"train {t.train}" if t.train else f"tokenizer {t.tokenizer}"
        lines.append(f"  tokenize block_size={t.block_size} {how} -> {t.path}")
    lines.append(f"  work    {plan.work_dir}")
    return "\n".join(lines)


def stage_dir_name(stage: Stage) -> str:
    return f"{stage.index:02d}-{stage.kind}-{stage.key}"
