"""The ``sweep``, ``status`` and ``plan`` commands of the ``sfttrain`` command line."""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from typing import Any

from sfttrain.config import ConfigError


def run_job_command(args: argparse.Namespace, argv: Sequence[str] = ()) -> int:
    """Run ``sfttrain sweep | status | plan``; returns the exit status."""
    if args.command == "status":
        from sfttrain._jobs import format_status, status

        info = status(args.folder)
        print(json.dumps(info, indent=2, default=str) if args.json else format_status(info))
        return 0
    if args.command == "plan":
        from sfttrain.plan import plan_from_yaml

        report = plan_from_yaml(
            args.config,
            gpu_memory=args.gpu_memory,
            gpus=args.gpus,
            zero=args.zero,
            shape=args.shape,
        )
        print(json.dumps(report.to_dict(), indent=2) if args.json else report.text())
        return 0 if report.fits else 1
    return _sweep(args)


def _baseline(items: Sequence[str]) -> dict[str, Any] | None:
    import yaml

    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise ConfigError(f"--baseline: expected KEY=VALUE, got {item!r}")
        out[key] = yaml.safe_load(value)
    return out or None


def _sweep(args: argparse.Namespace) -> int:
    from sfttrain.sweep import load_sweep, run_sweep, write_report

    target = args.target
    if target[0] == "report":
        if len(target) != 2:
            raise ConfigError("sweep report: give the sweep folder: sfttrain sweep report SWEEP")
        path = write_report(target[1], baseline=_baseline(args.baseline))
        print(f"sfttrain sweep: report in {path} (results.csv, plots/ beside it)")
        return 0
    if len(target) != 1:
        raise ConfigError(f"sweep: give one sweep YAML (or `report SWEEP`), got {target}")
    spec = load_sweep(target[0], out=args.out)
    if args.detach:
        from sfttrain._jobs import detach

        cmd = ["sweep", target[0], "--out", str(spec.out)]
        if args.parallel:
            cmd += ["--parallel", str(args.parallel)]
        spec.out.mkdir(parents=True, exist_ok=True)
        detach(cmd, spec.out)
        return 0
    records = run_sweep(spec, parallel=args.parallel)
    path = write_report(spec.out)
    print(f"sfttrain sweep: {len(records)} runs finished; report in {path}")
    return 0
