"""The dedup map steps follow the step contract: pickle, stable fingerprint, batch-size invariant."""

from __future__ import annotations

import pickle
import subprocess
import sys
import textwrap
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.dedup._strategies import vocab_documents

STEPS_SOURCE = """
import numpy as np
from sftdata.dedup import Decontaminate, EvalNgrams, ExactKeys, MarkDuplicates, MinHashSignatures
STEPS = {
    "signatures": MinHashSignatures(num_perm=16, ngram=3),
    "exact": ExactKeys(punctuation=True),
    "decontaminate": Decontaminate(EvalNgrams.build({"ev": ["the cat sat on the mat"]}, ngram=3)),
    "mark": MarkDuplicates.from_roots(np.array([0, 0, 2, 2])),
}
"""


def make_steps() -> dict[str, Any]:
    scope: dict[str, Any] = {}
    exec(STEPS_SOURCE, scope)
    return scope["STEPS"]


def run_in_batches(step: Any, texts: list[str], size: int) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    for lo in range(0, len(texts), size):
        batch = {
            "text": texts[lo : lo + size],
            "row_index": list(range(lo, lo + size))[: len(texts[lo : lo + size])],
        }
        for k, v in step(batch).items():
            out.setdefault(k, []).extend(v)
    return out


def normalised(out: dict[str, list[Any]]) -> dict[str, list[Any]]:
    return {k: [x.tolist() if isinstance(x, np.ndarray) else x for x in v] for k, v in out.items()}


@settings(max_examples=10)
@given(texts=st.lists(vocab_documents, min_size=4, max_size=4), size=st.integers(1, 4))
def test_steps_are_batch_size_invariant(texts: list[str], size: int) -> None:
    """Property: every dedup step gives the same columns for any batch size."""
    for name, step in make_steps().items():
        whole = normalised(run_in_batches(step, texts, len(texts)))
        assert normalised(run_in_batches(step, texts, size)) == whole, name


def test_steps_pickle_to_equal_behaviour() -> None:
    """A pickled and restored step computes the same output."""
    texts = ["the cat sat on the mat", "a dog", "the cat sat on the mat!", ""]
    for name, step in make_steps().items():
        clone = pickle.loads(pickle.dumps(step))
        assert normalised(run_in_batches(clone, texts, 4)) == normalised(
            run_in_batches(step, texts, 4)
        ), name


@pytest.mark.slow
def test_fingerprints_equal_in_a_second_process() -> None:
    """datasets' fingerprint of each step is the same in a fresh interpreter (cache hits)."""
    code = STEPS_SOURCE + textwrap.dedent(
        """
        from datasets.fingerprint import Hasher
        print({k: Hasher.hash(v) for k, v in STEPS.items()})
        """
    )
    other = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True
    ).stdout.strip()
    from datasets.fingerprint import Hasher

    here = {k: Hasher.hash(v) for k, v in make_steps().items()}
    assert other == str(here)
