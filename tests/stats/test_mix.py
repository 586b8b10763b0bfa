"""stats.mix: proportions, reproducibility, no duplicates, temperature, datasets path."""

from __future__ import annotations

from collections import Counter

import datasets
import pytest
from hypothesis import given
from hypothesis import strategies as st

import sftdata as sd
from sftdata.stats import mix, mixture_probabilities

sizes = st.dictionaries(st.sampled_from("abcde"), st.integers(1, 30), min_size=1, max_size=4)


def _sources(size_map: dict[str, int]) -> dict[str, list[dict]]:
    return {k: [{"id": f"{k}{i}"} for i in range(n)] for k, n in size_map.items()}


@given(size_map=sizes, data=st.data())
def test_counts_follow_probabilities(size_map: dict[str, int], data: st.DataObject) -> None:
    """Each source gives p * N rows within 1, p_i ∝ w_i ** (1/T); no source overdrawn; rows never repeat."""
    weights = {k: data.draw(st.integers(1, 5)) for k in size_map}
    temperature = data.draw(st.sampled_from([0.5, 1.0, 2.0, 10.0]))
    out = mix(_sources(size_map), weights, seed=1, temperature=temperature)
    # p_i ∝ w_i ** (1 / T), written out here rather than read from mixture_probabilities
    scaled = {k: w ** (1 / temperature) for k, w in weights.items()}
    p = {k: v / sum(scaled.values()) for k, v in scaled.items()}
    got = Counter(r["source"] for r in out)
    for k in size_map:
        assert abs(got[k] - p[k] * len(out)) < 1 + 1e-9
        assert got[k] <= size_map[k]
    assert len({r["id"] for r in out}) == len(out)


@given(size_map=sizes, seed=st.integers(0, 2**32 - 1))
def test_same_seed_same_rows(size_map: dict[str, int], seed: int) -> None:
    """Same inputs and seed give the same rows in the same order."""
    a = mix(_sources(size_map), None, seed, num_rows=10, replace=True)
    b = mix(_sources(size_map), None, seed, num_rows=10, replace=True)
    assert a == b and len(a) == 10


@given(size=st.integers(1, 10), count=st.integers(0, 45))
def test_replace_draws_whole_epochs(size: int, count: int) -> None:
    """With replace, every row is drawn floor or ceil(count / size) times."""
    out = mix({"a": [{"id": i} for i in range(size)]}, None, seed=3, num_rows=count, replace=True)
    times = Counter(r["id"] for r in out)
    assert set(times.values()) <= {count // size, -(-count // size)}


@given(weights=st.lists(st.integers(1, 100), min_size=2, max_size=5), t=st.floats(1.0, 10.0))
def test_temperature_flattens(weights: list[int], t: float) -> None:
    """Raising the temperature never raises the largest probability nor lowers the smallest."""
    names = [str(i) for i in range(len(weights))]
    size_map = dict.fromkeys(names, 1)
    w = dict(zip(names, weights, strict=True))
    p1 = mixture_probabilities(size_map, w, temperature=t)
    p2 = mixture_probabilities(size_map, w, temperature=t * 2)
    assert max(p2.values()) <= max(p1.values()) + 1e-12
    assert min(p2.values()) >= min(p1.values()) - 1e-12
    assert abs(sum(p2.values()) - 1) < 1e-9


def test_weights_example() -> None:
    """Weights 3:1 over 100 and 40 rows with 60 drawn give 45 and 15."""
    out = mix(_sources({"code": 100, "chat": 40}), {"code": 3, "chat": 1}, seed=0, num_rows=60)
    assert Counter(r["source"] for r in out) == {"code": 45, "chat": 15}


def test_datasets_path_equals_list_path() -> None:
    """datasets.Dataset inputs give the same rows, in the same order, as lists."""
    size_map = {"a": 7, "b": 5}
    lists = _sources(size_map)
    hf = {k: datasets.Dataset.from_list(v) for k, v in lists.items()}
    out_hf = mix(hf, [2, 1], seed=5, num_rows=9)
    assert isinstance(out_hf, datasets.Dataset)
    assert out_hf.to_list() == mix(lists, [2, 1], seed=5, num_rows=9)


def test_existing_source_column_is_kept() -> None:
    """Rows that already name their source keep it."""
    out = mix({"a": [{"id": 1, "source": "orig"}]}, None, seed=0)
    assert out == [{"id": 1, "source": "orig"}]


def test_bad_arguments() -> None:
    """Shortfalls name the source; bad weights, seeds and temperatures are refused."""
    src = _sources({"a": 5, "b": 2})
    with pytest.raises(sd.SftDataError, match="'b' has 2 rows"):
        mix(src, [1, 1], seed=0, num_rows=10)
    with pytest.raises(sd.SftDataError, match="weights name"):
        mix(src, {"a": 1}, seed=0)
    with pytest.raises(sd.SftDataError, match="weight of 'a'"):
        mix(src, {"a": -1, "b": 1}, seed=0)
    with pytest.raises(sd.SftDataError, match="seed"):
        mix(src, None, seed=1.5)  # type: ignore[arg-type]
    with pytest.raises(sd.SftDataError, match="temperature"):
        mix(src, None, seed=0, temperature=0)
    with pytest.raises(sd.SftDataError, match="all be zero"):
        mix(src, [0, 0], seed=0)
    with pytest.raises(sd.SftDataError, match="non-empty"):
        mix({}, None, seed=0)


def test_lazy_name() -> None:
    """sd.mix is sftdata.stats.mix."""
    assert sd.mix is mix
