"""The preference losses as functions: values at known points, written from their papers."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from sfttrain._pref_losses import (
    bradley_terry_loss,
    dpo_loss,
    kto_loss,
    orpo_loss,
    sequence_logps,
)

logp = st.floats(-60, -0.01)


@settings(max_examples=30)
@given(logp, logp, logp, logp, st.floats(0.01, 2.0))
def test_sigmoid_is_minus_logsigmoid_of_the_margin(
    c: float, r: float, rc: float, rr: float, beta: float
) -> None:
    """Property: sigmoid DPO = -log σ(β((c - rc) - (r - rr))); rewards are β x the log-ratios."""
    t = lambda x: torch.tensor([x], dtype=torch.float64)  # noqa: E731
    out = dpo_loss(t(c), t(r), t(rc), t(rr), loss_type="sigmoid", beta=beta)
    delta = (c - rc) - (r - rr)
    assert float(out.losses[0]) == pytest.approx(
        math.log1p(math.exp(-beta * delta)), rel=1e-9, abs=1e-12
    )
    assert float(out.chosen_rewards[0]) == pytest.approx(beta * (c - rc))


def test_robust_without_smoothing_is_sigmoid_and_simpo_needs_no_reference() -> None:
    """Property: robust(ε=0) == sigmoid; simpo = -log σ(β Δavg - γ) without a reference."""
    c, r = torch.tensor([-4.0, -9.0]), torch.tensor([-6.0, -3.0])
    ref = torch.tensor([-5.0, -5.0])
    sig = dpo_loss(c, r, ref, ref, loss_type="sigmoid", beta=0.5).losses
    rob = dpo_loss(c, r, ref, ref, loss_type="robust", beta=0.5, label_smoothing=0.0).losses
    assert torch.allclose(sig, rob)
    n_c, n_r = torch.tensor([2, 3]), torch.tensor([4, 1])
    simpo = dpo_loss(c, r, None, None, loss_type="simpo", beta=2.0, gamma=0.5,
                     chosen_len=n_c, rejected_len=n_r)  # fmt: skip
    expected = -F.logsigmoid(2.0 * (c / n_c - r / n_r) - 0.5)
    assert torch.allclose(simpo.losses, expected)


def test_orpo_is_nll_plus_weighted_odds_ratio() -> None:
    """Property: ORPO = -mean log p(chosen) + β·(-log σ(log odds_c - log odds_r))."""
    c, r, n = torch.tensor([-2.0]), torch.tensor([-6.0]), torch.tensor([4])
    total, pair = orpo_loss(c, r, n, n, beta=0.25)
    pc, pr = math.exp(-0.5), math.exp(-1.5)
    log_odds = math.log(pc / (1 - pc)) - math.log(pr / (1 - pr))
    ratio = math.log1p(math.exp(-log_odds))
    assert float(pair.losses[0]) == pytest.approx(ratio, rel=1e-5)
    assert float(total[0]) == pytest.approx(0.5 + 0.25 * ratio, rel=1e-5)


def test_kto_at_the_reference_is_one_half_per_row() -> None:
    """Property: policy == reference and z = 0 give 1 - σ(0) = 0.5 times each row's weight."""
    x = torch.tensor([-3.0, -7.0, -1.0])
    desirable = torch.tensor([True, False, True])
    losses, rewards = kto_loss(x, x, desirable, beta=0.1, kl=torch.tensor(0.0),
                               desirable_weight=1.0, undesirable_weight=2.0)  # fmt: skip
    assert losses.tolist() == [0.5, 1.0, 0.5] and rewards.abs().max() == 0


def test_bradley_terry_and_sequence_logps() -> None:
    """Property: BT loss falls as the chosen score rises; logps skip -100 and shift by one."""
    assert bradley_terry_loss(torch.tensor([2.0]), torch.tensor([0.0])) < math.log(2)
    logits = torch.log(torch.tensor([[[0.5, 0.25, 0.25], [0.1, 0.8, 0.1], [1 / 3, 1 / 3, 1 / 3]]]))
    lp, n = sequence_logps(logits, torch.tensor([[-100, 0, 1]]))  # p(0 | pos 0), p(1 | pos 1)
    assert float(lp[0]) == pytest.approx(math.log(0.5) + math.log(0.8)) and int(n[0]) == 2
