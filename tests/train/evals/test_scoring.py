"""Multiple choice on a real tiny Llama: the packed pass equals scoring each choice alone."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sfttrain import evals

pytestmark = pytest.mark.slow
FIX = Path(__file__).parents[2] / "fixtures" / "evals"


@pytest.fixture(scope="module")
def model(tiny_model_dir: Path) -> Any:
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(str(tiny_model_dir))


def _items() -> list[Any]:
    return [
        *evals.load_task(FIX / "mmlu.jsonl", "mmlu")[:2],
        *evals.load_task(FIX / "copa.jsonl", "copa"),
        *evals.load_task(FIX / "cb.jsonl", "cb")[:1],
        *[i for i in evals.load_task(FIX / "bigbench.json", "bigbench") if i.kind == "choice"],
    ]


def _one_by_one(model: Any, reqs: list[Any]) -> list[list[float]]:
    """Each (context, continuation) in its own forward pass, all logits, no mask: the plain way."""
    import torch

    out = []
    for r in reqs:
        row = []
        for ctx, cont in r.pairs:
            ids = torch.tensor([list(ctx) + list(cont)])
            with torch.no_grad():
                logp = torch.log_softmax(model(input_ids=ids).logits.float(), -1)[0]
            row.append(sum(logp[len(ctx) - 1 + i, t].item() for i, t in enumerate(cont)))
        out.append(row)
    return out


def test_packed_choices_equal_one_forward_per_choice(model: Any, tiny_tokenizer: Any) -> None:
    """Property: one packed pass per item gives each choice's log-likelihood (1e-4), any batch size."""
    items, bos = _items(), True  # bos=False: test_lmeval.py covers it
    reqs = evals.requests(items, tiny_tokenizer, bos=bos)
    assert all(len(set(ctx for ctx, _ in r.pairs)) == 1 for r in reqs)  # one shared context
    assert (reqs[0].pairs[0][0][0] == tiny_tokenizer.bos_token_id) is bos
    expected = _one_by_one(model, reqs)
    for batch_size in (1, 4):
        got = evals.loglikelihoods(model, reqs, batch_size=batch_size)
        for g, e in zip(got, expected, strict=True):
            assert g == pytest.approx(e, abs=1e-4)


def test_chat_template_choices_score_the_trained_reply_tokens(
    model: Any, tiny_tokenizer: Any
) -> None:
    """Property: with a template, a choice's score is the trained tokens' log-probability of the
    conversation sd.encode builds (the existing held-out scorer's number)."""
    import sftdata as sd
    from sfttrain import heldout_loss

    template = sd.templates.get("llama2")
    items = evals.load_task(FIX / "copa.jsonl", "copa")
    lls = evals.loglikelihoods(model, evals.requests(items, tiny_tokenizer, template=template))
    for item, ll in zip(items, lls, strict=True):
        for choice, score in zip(item.choices, ll, strict=True):
            msgs = [
                {"role": "user", "content": evals.context(item)},
                {"role": "assistant", "content": choice},
            ]
            row = sd.encode(msgs, tiny_tokenizer, template, max_length=4096, loss_on="last")
            ref = heldout_loss(model, [row], pad_token_id=tiny_tokenizer.pad_token_id)
            assert score == pytest.approx(-ref["loss"] * ref["tokens"], abs=1e-4)


def test_choice_scores_follow_lm_evals_rules() -> None:
    """Property: acc takes the largest log-likelihood (first on ties), acc_norm divides by
    characters, acc_bytes by UTF-8 bytes."""
    it = evals.Item(task="t", id="0", kind="choice", question="q", choices=("é", "ab"), gold=1)
    sc = evals.choice_scores([it, it], [[-1.1, -2.0], [-1.0, -1.0]])
    assert sc["acc"] == [0.0, 0.0]  # -1.1 > -2.0; a tie goes to the first choice
    assert sc["acc_norm"] == [1.0, 1.0]  # per character: -1.1 < -2.0/2; -1.0 < -1.0/2
    assert sc["acc_bytes"] == [0.0, 0.0]  # "é" is 2 bytes: -1.1/2 > -2.0/2; a tie again
    assert sc["prob_gold"][1] == pytest.approx(0.5)


@pytest.mark.parametrize("bos", [True, False])
def test_batched_requests_equal_lm_evals_pair_encoding(tiny_tokenizer: Any, bos: bool) -> None:
    """Property: requests() (context tokenized once per item) gives encode_pair's ids per choice."""
    items = [*_items(), *evals.load_task(FIX / "boolq.jsonl", "boolq")]
    for item, req in zip(items, evals.requests(items, tiny_tokenizer, bos=bos), strict=True):
        expected = [
            evals.encode_pair(tiny_tokenizer, evals.context(item), item.delimiter + c, bos=bos)
            for c in item.choices
        ]
        assert [(list(a), list(b)) for a, b in req.pairs] == expected
