"""Scoring functions: pass@k, calibration, bootstrap intervals, perturbations, docstrings."""

from __future__ import annotations

import doctest
import importlib
import itertools
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sfttrain import evals
from sfttrain.evals import Item


@settings(max_examples=40)
@given(
    st.integers(1, 8).flatmap(lambda n: st.tuples(st.just(n), st.integers(0, n), st.integers(1, n)))
)
def test_pass_at_k_is_the_chance_a_random_k_subset_holds_a_pass(nck: tuple[int, int, int]) -> None:
    """Property: pass@k equals the share of k-subsets of the n samples that contain a pass."""
    n, c, k = nck
    samples = [True] * c + [False] * (n - c)
    subsets = list(itertools.combinations(samples, k))
    assert evals.pass_at_k(n, c, k) == pytest.approx(sum(any(s) for s in subsets) / len(subsets))


def test_ece_on_a_hand_worked_example() -> None:
    """Property: ECE = sum over bins of |bin| / n * |accuracy - mean confidence|.

    Bin (0.8, 0.9]: confidences 0.9, 0.9, 0.9, right 2 of 3 -> |2/3 - 0.9| = 0.2333 x 3
    Bin (0.5, 0.6]: confidences 0.6, 0.6, right 1 of 2      -> |0.5 - 0.6| = 0.1 x 2
    ECE = (0.7 + 0.2) / 5 = 0.18; a perfectly calibrated set scores 0.
    """
    ece = evals.expected_calibration_error([0.9, 0.9, 0.9, 0.6, 0.6], [1, 1, 0, 1, 0])
    assert ece == pytest.approx(0.18)
    assert evals.expected_calibration_error([1.0, 0.5, 0.5], [1, 1, 0]) == 0
    # confidence 0 belongs to the first bin, 1.0 to the last
    assert evals.expected_calibration_error([0.0, 1.0], [0, 1]) == 0


def test_bootstrap_interval_on_a_known_case() -> None:
    """Property: the interval holds the mean, is seeded, and matches the binomial spread.

    200 items, 60% right: the standard error of the mean is sqrt(.6 * .4 / 200) = 0.0346,
    so a 95% interval is about 0.6 +- 0.068.
    """
    scores = [1.0] * 120 + [0.0] * 80
    low, high = evals.bootstrap_ci(scores, samples=2000, seed=1)
    assert (low, high) == evals.bootstrap_ci(scores, samples=2000, seed=1)
    assert low < 0.6 < high
    assert 0.6 - low == pytest.approx(0.068, abs=0.012)
    assert high - 0.6 == pytest.approx(0.068, abs=0.012)
    assert evals.bootstrap_ci([0.5] * 10) == (0.5, 0.5)


def test_paired_bootstrap_sees_a_shared_item_effect_that_unpaired_intervals_miss() -> None:
    """Property: B = A + 0.05 on every item gives delta 0.05 with a zero-width paired interval,
    while a B unrelated to A gives an interval around its true difference."""
    rng = random.Random(0)
    a = [rng.random() for _ in range(100)]
    b = [x + 0.05 for x in a]
    delta, low, high = evals.paired_bootstrap(a, b)
    assert (
        delta == pytest.approx(0.05) and low == pytest.approx(0.05) and high == pytest.approx(0.05)
    )
    a01 = [1.0] * 50 + [0.0] * 50
    b01 = [1.0] * 50 + [1.0] * 25 + [0.0] * 25  # 25 items fixed, none broken
    delta, low, high = evals.paired_bootstrap(a01, b01, samples=2000)
    assert delta == 0.25 and 0.15 < low < 0.25 < high < 0.35


def test_generation_metrics() -> None:
    """Property: normalisation ignores case, punctuation and spacing; numbers compare as numbers."""
    assert evals.exact_match("  Paris! ", "paris") == 1
    assert evals.exact_match("Paris, France", "paris") == 0
    assert evals.extract_number("The answer is 3.50 dollars") == "3.5"
    assert evals.exact_match("#### 42\nthen 7", "42", extract="number") == 1
    assert evals.call_matches(
        'Sure: {"name": "get_time", "arguments": "{\\"city\\": \\"Tokyo\\"}"}',
        {"name": "get_time", "arguments": {"city": "Tokyo"}},
    )
    assert not evals.call_matches("no call", {"name": "f", "arguments": {}})
    assert evals.is_refusal("I’m sorry, I can’t help with that.")


MMLU = Item(
    task="t", id="7", kind="choice", question="Which planet is closest to the Sun today?",
    options=("Venus", "Earth", "Mercury", "Mars"), choices=("A", "B", "C", "D"), gold=2,
    style="mmlu",
)  # fmt: skip


@pytest.mark.parametrize("name", evals.PERTURBATIONS)
def test_perturbations_are_deterministic_by_seed(name: str) -> None:
    """Property: the same seed gives the same perturbed item; the gold answer text is kept."""
    outs = [evals.perturb(MMLU, name, seed=s) for s in range(6)]
    assert outs == [evals.perturb(MMLU, name, seed=s) for s in range(6)]
    assert len({(o.question, o.options) for o in outs}) > 1  # seeds differ
    assert all(o.options[o.gold] == "Mercury" for o in outs)


def test_choice_order_on_text_choices_moves_the_gold() -> None:
    """Property: shuffling scored choices keeps the gold choice's text as the gold."""
    it = Item(task="t", id="1", kind="choice", question="q", choices=("x", "y", "z"), gold=1)
    moved = [evals.perturb(it, "choice_order", seed=s) for s in range(8)]
    assert all(m.choices[m.gold] == "y" for m in moved)
    assert len({m.choices for m in moved}) > 1
    with pytest.raises(ValueError, match="unknown perturbation"):
        evals.perturb(it, "emoji")


@pytest.mark.parametrize(
    "name",
    ["_items", "_formats", "_choice", "_metrics", "_perturb", "_sandbox", "_run", "__init__"],
)
def test_docstring_examples(name: str) -> None:
    """Property: every example in the module's docstrings gives the output it shows."""
    module = importlib.import_module(f"sfttrain.evals.{name}".removesuffix(".__init__"))
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
