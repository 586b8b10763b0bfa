"""Preference losses as pure tensor functions: DPO family, ORPO, KTO, Bradley-Terry.

Every loss here takes per-sequence *summed* log-probabilities of the answer tokens
(labels != -100) and, where it normalises by length, the number of those tokens::

    logps   sum_t log p(y_t | x, y_<t) over the labelled tokens of one sequence
    n       how many labelled tokens that sequence has

``sequence_logps`` computes both from logits and unshifted labels, shifting as
transformers does (the logit at position t predicts the label at t + 1).

>>> import torch
>>> z = torch.zeros(2)
>>> float(dpo_loss(z, z, z, z, loss_type="sigmoid", beta=0.1).losses.mean())  # ln 2
0.6931471824645996
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import torch
import torch.nn.functional as F


class PairLoss(NamedTuple):
    """Per-pair losses and the implicit rewards logged as ``rewards/chosen|rejected``."""

    losses: Any
    chosen_rewards: Any
    rejected_rewards: Any


def sequence_logps(logits: Any, labels: Any) -> tuple[Any, Any]:
    """Summed log-probs of the labelled tokens of each row, and their count.

    ``labels`` are unshifted (``-100`` = not scored): position t's logit scores
    ``labels[t + 1]``, as in ``transformers``' causal-LM loss.

    >>> logits = torch.zeros(1, 3, 4)  # uniform over 4 tokens
    >>> lp, n = sequence_logps(logits, torch.tensor([[-100, 1, 2]]))
    >>> round(float(lp[0]), 4), int(n[0])
    (-2.7726, 2)
    """
    shift_logits = logits[:, :-1, :]
    shift_labels = labels[:, 1:]
    mask = shift_labels != -100
    if shift_logits.dtype in (torch.float16, torch.bfloat16):
        shift_logits = shift_logits.float()
    nll = F.cross_entropy(
        shift_logits.reshape(-1, shift_logits.size(-1)),
        shift_labels.reshape(-1).masked_fill(~mask.reshape(-1), 0),
        reduction="none",
    ).view_as(shift_labels)
    return -(nll * mask).sum(dim=1), mask.sum(dim=1)


def dpo_loss(
    chosen: Any,
    rejected: Any,
    ref_chosen: Any,
    ref_rejected: Any,
    *,
    loss_type: str,
    beta: float,
    label_smoothing: float = 0.0,
    gamma: float = 0.0,
    chosen_len: Any = None,
    rejected_len: Any = None,
) -> PairLoss:
    """DPO-family loss per pair from policy and reference sequence log-probs.

    ::

        sigmoid   -log σ(β Δ)                       Δ = (πc - rc) - (πr - rr)
        robust    ((1-ε)(-log σ(βΔ)) - ε(-log σ(-βΔ))) / (1 - 2ε)
        hinge     max(0, 1 - βΔ)
        ipo       (Δ_tok - 1/(2β))²                 Δ_tok: each log-ratio / its token count
        simpo     -log σ(β (πc/nc - πr/nr) - γ)      no reference

    ``chosen_len`` / ``rejected_len`` (labelled-token counts) are needed by ipo and simpo.
    """
    if loss_type == "simpo":
        avg_c, avg_r = chosen / chosen_len.clamp(min=1), rejected / rejected_len.clamp(min=1)
        losses = -F.logsigmoid(beta * (avg_c - avg_r) - gamma)
        return PairLoss(losses, (beta * avg_c).detach(), (beta * avg_r).detach())
    ratio_c, ratio_r = chosen - ref_chosen, rejected - ref_rejected
    delta = ratio_c - ratio_r
    if loss_type == "sigmoid":
        losses = -F.logsigmoid(beta * delta)
    elif loss_type == "robust":
        eps = label_smoothing
        clean = -(1 - eps) * F.logsigmoid(beta * delta)
        flipped = -eps * F.logsigmoid(-beta * delta)
        losses = (clean - flipped) / (1 - 2 * eps)
    elif loss_type == "hinge":
        losses = torch.relu(1 - beta * delta)
    elif loss_type == "ipo":
        per_token = ratio_c / chosen_len.clamp(min=1) - ratio_r / rejected_len.clamp(min=1)
        losses = (per_token - 1 / (2 * beta)) ** 2
    else:
        raise ValueError(f"preference.loss_type: unknown {loss_type!r}")
    return PairLoss(losses, (beta * ratio_c).detach(), (beta * ratio_r).detach())


def orpo_loss(
    chosen: Any, rejected: Any, chosen_len: Any, rejected_len: Any, *, beta: float
) -> tuple[Any, PairLoss]:
    """ORPO: the chosen answer's per-token NLL plus ``beta`` x the odds-ratio loss.

    With p = exp(mean token log-prob), log odds(p) = log p - log(1 - p); the odds-ratio
    term is -log σ(log odds(chosen) - log odds(rejected)). Returns (total per pair,
    the odds-ratio part with rewards β·mean log-prob).
    """
    avg_c, avg_r = chosen / chosen_len.clamp(min=1), rejected / rejected_len.clamp(min=1)
    log_odds = (avg_c - avg_r) - (_log1mexp(avg_c) - _log1mexp(avg_r))
    ratio_loss = -F.logsigmoid(log_odds)
    total = -avg_c + beta * ratio_loss
    return total, PairLoss(ratio_loss, (beta * avg_c).detach(), (beta * avg_r).detach())


def _log1mexp(x: Any) -> Any:
    """log(1 - exp(x)) for x < 0, stable at both ends."""
    x = x.clamp(max=-1e-6)
    return torch.where(x > -math.log(2), torch.log(-torch.expm1(x)), torch.log1p(-torch.exp(x)))


def kto_loss(
    logps: Any,
    ref_logps: Any,
    desirable: Any,
    *,
    beta: float,
    kl: Any,
    desirable_weight: float = 1.0,
    undesirable_weight: float = 1.0,
) -> tuple[Any, Any]:
    """KTO per row: desirable rows push β(r - z) up, undesirable push it down.

    ``r`` = policy - reference log-prob, ``z`` = the (detached, clamped >= 0) KL
    estimate ``kl``. Loss: w_d (1 - σ(β(r - z))) for desirable rows, w_u (1 - σ(β(z - r)))
    for undesirable ones. Returns (losses, rewards β·r).
    """
    ratio = logps - ref_logps
    z = kl.detach().clamp(min=0)
    loss_d = desirable_weight * (1 - torch.sigmoid(beta * (ratio - z)))
    loss_u = undesirable_weight * (1 - torch.sigmoid(beta * (z - ratio)))
    return torch.where(desirable, loss_d, loss_u), (beta * ratio).detach()


def bradley_terry_loss(chosen_scores: Any, rejected_scores: Any) -> Any:
    """Reward-model loss per pair: -log σ(s_chosen - s_rejected).

    >>> float(bradley_terry_loss(torch.tensor([0.0]), torch.tensor([0.0]))[0])  # ln 2
    0.6931471824645996
    """
    return -F.logsigmoid(chosen_scores - rejected_scores)
