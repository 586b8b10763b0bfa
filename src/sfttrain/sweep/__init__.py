"""``sfttrain sweep``: train one base config over a grid of data and training choices,
several seeds each, and compare the evaluations.

>>> from sfttrain.sweep import paired_bootstrap
>>> round(paired_bootstrap([0.9, 1.1], [1.0, 1.2]).delta, 6)
-0.1

See :mod:`sfttrain.sweep._spec` for the YAML, :mod:`sfttrain.sweep._run` for the
folder layout and :mod:`sfttrain.sweep._report` for the report.
"""

from __future__ import annotations

from sfttrain.sweep._eval import register_suite_runner
from sfttrain.sweep._report import write_report
from sfttrain.sweep._run import plan_runs, read_results, run_sweep
from sfttrain.sweep._spec import SweepSpec, Variant, load_sweep
from sfttrain.sweep._stats import Interval, mean_std, paired_bootstrap

__all__ = [
    "Interval",
    "SweepSpec",
    "Variant",
    "load_sweep",
    "mean_std",
    "paired_bootstrap",
    "plan_runs",
    "read_results",
    "register_suite_runner",
    "run_sweep",
    "write_report",
]
