"""Sweep specs (grid, random, seeds, pipeline keys) and the report's statistics."""

from __future__ import annotations

import doctest
import importlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sfttrain.config import ConfigError
from sfttrain.sweep import load_sweep, paired_bootstrap, plan_runs
from sfttrain.sweep._data import apply_key


def test_bootstrap_known_case_two_pairs() -> None:
    """Property: differences (1, 3): resampled means are 1, 2 or 3 -> interval [1, 3], delta 2."""
    iv = paired_bootstrap([2.0, 5.0], [1.0, 2.0], n_boot=20_000)
    assert iv.delta == 2.0
    assert (iv.low, iv.high) == (1.0, 3.0)


def test_bootstrap_matches_scipy_percentile_interval() -> None:
    """Property: our paired percentile interval equals scipy.stats.bootstrap's (paired,
    percentile) on the same data, up to Monte Carlo error."""
    from scipy.stats import bootstrap

    rng = np.random.default_rng(1)
    a = rng.normal(1.0, 1.0, 40)
    b = a - 0.3 + rng.normal(0, 0.5, 40)
    ours = paired_bootstrap(a, b, n_boot=20_000, seed=3)
    ref = bootstrap(
        (a, b), lambda x, y, axis: np.mean(x - y, axis=axis), paired=True,
        method="percentile", n_resamples=20_000, random_state=4, vectorized=True,
    )  # fmt: skip
    ci = ref.confidence_interval
    assert ours.delta == pytest.approx(float(np.mean(a - b)))
    assert ours.low == pytest.approx(ci.low, abs=0.03)
    assert ours.high == pytest.approx(ci.high, abs=0.03)


@settings(max_examples=30)
@given(
    st.lists(
        st.tuples(st.floats(-5, 5), st.floats(-5, 5), st.integers(1, 50)), min_size=1, max_size=20
    )
)
def test_weighted_delta_is_difference_of_token_weighted_losses(rows: list[Any]) -> None:
    """Property: with token weights, delta = weighted mean(a) - weighted mean(b), inside [low, high]."""
    a, b, w = ([r[i] for r in rows] for i in range(3))
    iv = paired_bootstrap(a, b, weights=w, n_boot=200)
    want = sum(x * n for x, n in zip(a, w, strict=True)) / sum(w)
    want -= sum(y * n for y, n in zip(b, w, strict=True)) / sum(w)
    assert iv.delta == pytest.approx(want, abs=1e-9)
    assert iv.low - 1e-9 <= iv.high


def _sweep(tmp_path: Path, **extra: Any) -> Path:
    import yaml

    (tmp_path / "chats.jsonl").write_text('{"messages": [{"role": "user", "content": "hi"}, '
                                          '{"role": "assistant", "content": "hello"}]}\n')  # fmt: skip
    data = {
        "out": "sweep",
        "base": {"model": "m", "template": "llama2", "max_steps": 2},
        "pipeline": {
            "inputs": [{"path": "chats.jsonl", "source": "chats"}],
            "steps": ["clean.fix_text", {"dedup.minhash": {"threshold": 0.8}}],
        },
        "eval": {"heldout": "chats.jsonl"},
        "grid": {"pipeline.steps.dedup.minhash": [True, False], "lora.r": [4, 8]},
        "seeds": [0, 1],
        **extra,
    }
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_grid_times_seeds_and_shared_data_variants(tmp_path: Path) -> None:
    """Property: 2x2 grid x 2 seeds = 8 runs with distinct stable ids; lora.r does not
    change the data, so there are 2 data variants, each shared by 4 runs."""
    path = _sweep(tmp_path)
    datas, jobs = plan_runs(load_sweep(path))
    assert len(jobs) == 8 and len({j.run_id for j in jobs}) == 8
    assert len(datas) == 2
    by_fp: dict[str | None, int] = {}
    for j in jobs:
        by_fp[j.data_fingerprint] = by_fp.get(j.data_fingerprint, 0) + 1
    assert sorted(by_fp.values()) == [4, 4]
    assert [j.run_id for j in plan_runs(load_sweep(path))[1]] == [j.run_id for j in jobs]
    assert {j.config["lora"]["r"] for j in jobs} == {4, 8}
    assert {j.seed for j in jobs} == {0, 1}
    # the seed is not part of the variant: each variant has both seeds
    assert len({j.variant_id for j in jobs}) == 4


def test_random_draws_n_points_reproducibly(tmp_path: Path) -> None:
    """Property: random {n: 3, seed} picks 3 of the 4 grid points, the same ones each time."""
    path = _sweep(tmp_path, random={"n": 3, "seed": 7})
    a, b = plan_runs(load_sweep(path))[1], plan_runs(load_sweep(path))[1]
    assert len(a) == 6 and [j.run_id for j in a] == [j.run_id for j in b]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"grid": {"lora.r": [-1]}}, "lora"),
        ({"grid": {"learning_rat": [1.0]}}, "learning_rat: unknown key"),
        ({"grid": {"pipeline.steps.dedup.exakt": [True]}}, "pipeline.steps.dedup.exakt"),
        ({"baseline": {"lora.r": 99}}, "baseline"),
        ({"seeds": [0, 0]}, "seeds"),
        ({"grid": {"seed": [1, 2]}}, "grid.seed"),
        ({"eval": {"heldout": "missing.jsonl"}}, "eval.heldout"),
        ({"grid": {"stage": ["sft", "dpo"]}}, "stage: a sweep trains stage 'sft' only"),
    ],
)
def test_bad_sweeps_name_the_key(tmp_path: Path, extra: dict[str, Any], message: str) -> None:
    """Property: a wrong key or value is a ConfigError naming it, before any work."""
    with pytest.raises(ConfigError, match=message.replace(".", r"\.")):
        plan_runs(load_sweep(_sweep(tmp_path, **extra)))


def test_pipeline_keys_drop_set_and_replace() -> None:
    """Property: steps.<name> false drops it, steps.<name>.<opt> sets one option,
    steps.<name> {..} replaces the options, inputs.<source> false drops that input."""
    d: dict[str, Any] = {
        "inputs": [{"path": "a", "source": "a"}, {"path": "b", "source": "b"}],
        "steps": ["clean.fix_text", {"clean.quality": {"min_words": 1}}, "dedup.exact"],
    }
    apply_key(d, "steps.clean.quality.min_words", 5)
    assert d["steps"][1] == {"clean.quality": {"min_words": 5}}
    apply_key(d, "steps.clean.quality", {"min_stop_words": 0})
    assert d["steps"][1] == {"clean.quality": {"min_stop_words": 0}}
    apply_key(d, "steps.dedup.exact", False)
    assert d["steps"] == ["clean.fix_text", {"clean.quality": {"min_stop_words": 0}}]
    apply_key(d, "inputs.b", False)
    assert [i["source"] for i in d["inputs"]] == ["a"]
    with pytest.raises(ConfigError, match=r"inputs\.c"):
        apply_key(d, "inputs.c", False)


def test_sweep_doctests() -> None:
    """Property: the sweep modules' docstring examples give the output they show."""
    for name in ("sfttrain.sweep", "sfttrain.sweep._stats", "sfttrain.sweep._data"):
        result = doctest.testmod(importlib.import_module(name))
        assert result.failed == 0 and result.attempted > 0, name


def test_results_reader_skips_torn_lines_and_keeps_last(tmp_path: Path) -> None:
    """Property: a torn last line is skipped; a run recorded twice counts once (the last)."""
    from sfttrain.sweep import read_results
    from sfttrain.sweep._run import _append

    rec = {"run": "r1", "variant": "v", "seed": 0, "settings": {}, "metrics": {"x": 1.0}}
    (tmp_path / "results.jsonl").write_text(json.dumps(rec) + "\n" + '{"run": "r2", "var')
    _append(tmp_path / "results.jsonl", {**rec, "metrics": {"x": 2.0}})
    out = read_results(tmp_path)
    assert [r["metrics"]["x"] for r in out] == [2.0]


def test_shipped_data_ablation_sweep_plans(tmp_path: Path) -> None:
    """Property: the shipped example validates: dedup x quality on/off = 4 data variants,
    x 2 seeds = 8 runs, with the baseline among them."""
    example = Path(__file__).parents[2] / "examples" / "sweeps" / "data_ablation.yaml"
    spec = load_sweep(example, out=tmp_path / "sweep")
    datas, jobs = plan_runs(spec)
    assert len(datas) == 4 and len(jobs) == 8
    assert spec.baseline in [j.settings for j in jobs]
