"""The compiled (numba) MinHash kernel against the numpy fallback, and the folding fast path."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sftdata.dedup import _compiled, _text, minhash_signatures
from tests.dedup._strategies import documents

pytestmark = pytest.mark.skipif(not _compiled.AVAILABLE, reason="numba not installed")

unicode_texts = st.lists(st.one_of(documents, st.text(max_size=200)), min_size=0, max_size=8)


@settings(max_examples=60, deadline=None)
@given(
    texts=unicode_texts,
    num_perm=st.integers(1, 40),
    seed=st.integers(0, 2**32 - 1),
    ngram=st.integers(1, 7),
)
def test_compiled_equals_numpy(texts: list[str], num_perm: int, seed: int, ngram: int) -> None:
    """Property: on any Unicode texts the compiled kernel gives the numpy kernel's bits."""
    opts = {"num_perm": num_perm, "seed": seed, "ngram": ngram}
    fast = minhash_signatures(texts, compiled=True, **opts)
    slow = minhash_signatures(texts, compiled=False, **opts)
    assert fast.shape == slow.shape == (len(texts), num_perm)
    np.testing.assert_array_equal(fast, slow)


_RUN = re.compile(r"([^\x00-\x7f]+)")


def _folded_by_regex_runs(text: str) -> bytes:
    parts = _RUN.split(text)
    parts[1::2] = [_text._fold_run(p) for p in parts[1::2]]
    return "".join(parts).encode("utf-8").translate(_text._UTF8_TABLE)


@settings(max_examples=80)
@given(text=st.one_of(documents, st.text(max_size=120)))
def test_folded_bytes_equal_regex_run_split(text: str) -> None:
    """Property: finding non-ASCII runs on the UTF-8 bytes folds exactly as the regex split."""
    assert _text.folded_bytes(text) == _folded_by_regex_runs(text)


def test_long_documents_and_empty_ones() -> None:
    """Long documents (many kernel words), empty and blank ones sign the same on both paths."""
    rng = np.random.default_rng(1)
    vocab = np.array([f"w{i}" for i in range(300)] + ["東京", "Crème", "ß"])
    texts = ["", "   \n", " ".join(rng.choice(vocab, size=30_000)), "one", "a b c d e f"]
    fast = minhash_signatures(texts, num_perm=64, compiled=True)
    np.testing.assert_array_equal(fast, minhash_signatures(texts, num_perm=64, compiled=False))
    np.testing.assert_array_equal(fast[0], fast[1])  # no words at all: the same empty shingle


@pytest.mark.slow
def test_switched_off_by_environment() -> None:
    """``SFTDATA_NO_NUMBA=1`` turns the compiled path off; signing still works (numpy)."""
    code = (
        "from sftdata.dedup import _compiled, minhash_signatures as m;"
        "print(_compiled.AVAILABLE, m(['a b c d e f g'], num_perm=4).tolist())"
    )
    env = {**os.environ, "SFTDATA_NO_NUMBA": "1"}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    ).stdout.split(" ", 1)
    assert out[0] == "False"
    expected = minhash_signatures(["a b c d e f g"], num_perm=4).tolist()
    assert out[1].strip() == str(expected)


def test_signatures_compiled_refuses_when_switched_off(monkeypatch: pytest.MonkeyPatch) -> None:
    """Called directly while switched off, the compiled entry point says numba is needed."""
    monkeypatch.setenv("SFTDATA_NO_NUMBA", "1")
    one = np.ones(1, np.uint32)
    with pytest.raises(RuntimeError, match="numba"):
        _compiled.signatures_compiled(["x"], a=one, b=one, ngram=1)
