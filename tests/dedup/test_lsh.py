"""LSH pieces: band choice, candidate pairs by sorting, union-find, index queries."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from datasketch.lsh import _optimal_param
from hypothesis import given, settings
from hypothesis import strategies as st

from sftdata.dedup import (
    band_keys,
    candidate_pairs,
    candidate_probability,
    connected_components,
    match_rows,
    optimal_bands,
    query_pairs,
    verify_pairs,
)


@settings(max_examples=8)
@given(
    threshold=st.sampled_from([0.3, 0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95]),
    num_perm=st.sampled_from([16, 32, 64, 128]),
)
def test_optimal_bands_equal_datasketch(threshold: float, num_perm: int) -> None:
    """Property: (bands, rows) equal datasketch MinHashLSH's optimiser for the same inputs."""
    assert optimal_bands(threshold, num_perm) == _optimal_param(threshold, num_perm, 0.5, 0.5)


def test_candidate_probability_is_an_s_curve() -> None:
    """P(candidate) rises with similarity and is near 0 / 1 far below / above the threshold."""
    b, r = optimal_bands(0.8, 128)
    probs = [candidate_probability(s, bands=b, rows=r) for s in np.linspace(0, 1, 21)]
    assert probs == sorted(probs)
    assert candidate_probability(0.5, bands=b, rows=r) < 0.01
    assert candidate_probability(0.95, bands=b, rows=r) > 0.99


small_keys = st.integers(1, 40).flatmap(
    lambda n: st.lists(
        st.lists(st.integers(0, 4), min_size=n, max_size=n), min_size=1, max_size=4
    ).map(lambda cols: np.array(cols, dtype=np.uint64).T)
)


@settings(max_examples=60)
@given(keys=small_keys)
def test_candidate_pairs_connect_exactly_rows_sharing_a_key(keys: np.ndarray) -> None:
    """Property: components of candidate pairs equal those of brute-force 'share a band key'."""
    n = keys.shape[0]
    pairs = candidate_pairs(keys)
    assert (pairs[:, 0] < pairs[:, 1]).all()
    brute = [(i, j) for i, j in itertools.combinations(range(n), 2) if (keys[i] == keys[j]).any()]
    assert set(map(tuple, pairs.tolist())) <= set(brute)
    np.testing.assert_array_equal(connected_components(n, pairs), _python_union_find(n, brute))


def _python_union_find(n: int, pairs: list[tuple[int, int]]) -> np.ndarray:
    parent = list(range(n))

    def find(x: int) -> int:
        while parent[x] != x:
            x = parent[x]
        return x

    for u, v in pairs:
        ru, rv = find(u), find(v)
        parent[max(ru, rv)] = min(ru, rv)
    return np.array([find(i) for i in range(n)])


@settings(max_examples=60)
@given(
    n=st.integers(1, 60),
    edges=st.lists(st.tuples(st.integers(0, 59), st.integers(0, 59)), max_size=80),
)
def test_connected_components_root_is_lowest_index(n: int, edges: list[tuple[int, int]]) -> None:
    """Property: every row's root is the lowest index of its component (Python union-find)."""
    pairs = [(u, v) for u, v in edges if u < n and v < n]
    got = connected_components(n, np.array(pairs, dtype=np.int64).reshape(-1, 2))
    np.testing.assert_array_equal(got, _python_union_find(n, pairs))


def test_band_keys_equal_iff_bands_equal() -> None:
    """Rows with an identical band get the same key for that band, different bands differ."""
    rng = np.random.default_rng(0)
    sig = rng.integers(0, 2**32, size=(50, 12), dtype=np.uint32)
    sig[7, 4:8] = sig[3, 4:8]  # rows 3 and 7 share band 1 only
    keys = band_keys(sig, bands=3, rows=4)
    assert keys[3, 1] == keys[7, 1] and keys[3, 0] != keys[7, 0] and keys[3, 2] != keys[7, 2]
    assert candidate_pairs(keys).tolist() == [[3, 7]]


def test_band_keys_validate_shape() -> None:
    """bands * rows larger than num_perm is refused with a message naming num_perm."""
    with pytest.raises(ValueError, match="num_perm"):
        band_keys(np.zeros((3, 8), dtype=np.uint32), bands=3, rows=3)


def test_verify_pairs_uses_estimated_jaccard() -> None:
    """Verification keeps the pair agreeing on >= threshold of positions, drops the other."""
    sig = np.zeros((3, 10), dtype=np.uint32)
    sig[1, :1] = 1  # 90 % equal to row 0
    sig[2, :5] = 2  # 50 % equal to row 0
    pairs = np.array([[0, 1], [0, 2]])
    assert verify_pairs(sig, pairs, threshold=0.8).tolist() == [[0, 1]]


def test_query_and_match_rows_against_an_index() -> None:
    """A new row sharing a band with indexed rows matches the lowest verified index row."""
    rng = np.random.default_rng(1)
    index = rng.integers(0, 2**32, size=(5, 16), dtype=np.uint32)
    index[4] = index[2]
    new = rng.integers(0, 2**32, size=(3, 16), dtype=np.uint32)
    new[1] = index[2]
    new[2, :4] = index[0, :4]  # shares a band but only 25 % of positions
    pairs = query_pairs(band_keys(index, bands=4, rows=4), band_keys(new, bands=4, rows=4))
    assert pairs.tolist() == [[1, 2], [2, 0]]
    match, est = match_rows(index, new, bands=4, rows=4, threshold=0.8)
    assert match.tolist() == [-1, 2, -1] and est[1] == 1.0
    match, _ = match_rows(index, new, bands=4, rows=4, threshold=0.8, verify=False)
    assert match.tolist() == [-1, 2, 0]
