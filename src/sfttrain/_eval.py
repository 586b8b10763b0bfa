"""Evaluation on our templates: held-out loss, multiple choice, generation metrics.

Three kinds, each on a local JSONL file:

=================  ======================================  ===================================
kind               row                                     metric
=================  ======================================  ===================================
held-out loss      chat rows (``messages``)                mean loss and perplexity over the
                                                           trained tokens only (labels != -100)
multiple choice    ``question``, ``choices``, ``answer``   accuracy: the choice with the highest
                   (index, letter or the choice text)      log-likelihood as the assistant reply
                                                           (``acc``; ``acc_norm`` per character)
generation         ``question`` (or ``messages``),         exact match and contains, after
                   ``answer``                              greedy, left-padded batched decoding
=================  ======================================  ===================================

Prompts are rendered with the training template, so the model is asked in the format
it was trained on.

For benchmark formats (MMLU, SuperGLUE, BIG-bench, GSM8K, HumanEval, ...), lm-eval on
local task files, suites and the evaluation matrix, see :mod:`sfttrain.evals`. To run
lm-evaluation-harness's own tasks, evaluate the export (``sfttrain export``): it is a
plain HF folder whose tokenizer carries the training template as ``chat_template``::

    sfttrain eval runs/demo/export --lm-eval arc_easy      # pip install -e ".[eval]"

offline, lm-eval needs its task datasets already in the local ``datasets`` cache
(``HF_DATASETS_OFFLINE=1``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sftdata import IGNORE_INDEX, SftDataError


def _batches(items: Sequence[Any], size: int) -> list[Sequence[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def label_logprobs(
    model: Any, rows: Sequence[dict[str, Any]], *, pad_token_id: int, batch_size: int = 8
) -> list[tuple[float, int]]:
    """Per row: (sum of log-probabilities of its labelled tokens, how many there are).

    Labels are unshifted (as sftdata writes them): token ``t``'s label is scored by the
    logits at ``t - 1``. Rows are right-padded with sftdata's collator.
    """
    import torch

    from sftdata import Collator

    collate = Collator(pad_token_id, padding_side="right")
    out: list[tuple[float, int]] = []
    model.eval()
    device = next(model.parameters()).device
    for chunk in _batches(rows, batch_size):
        batch = collate([{"input_ids": r["input_ids"], "labels": r["labels"]} for r in chunk])
        with torch.no_grad():
            logits = model(
                input_ids=batch["input_ids"].to(device),
                attention_mask=batch["attention_mask"].to(device),
            ).logits.float()
        labels = batch["labels"][:, 1:].to(device)
        logp = torch.log_softmax(logits[:, :-1], dim=-1)
        mask = labels != IGNORE_INDEX
        picked = logp.gather(-1, labels.clamp(min=0).unsqueeze(-1)).squeeze(-1) * mask
        # one transfer per batch (.tolist()), not one device sync per row
        sums, counts = picked.sum(-1).tolist(), mask.sum(-1).tolist()
        out += [(float(s), int(n)) for s, n in zip(sums, counts, strict=True)]
    return out


def heldout_loss(
    model: Any, rows: Sequence[dict[str, Any]], *, pad_token_id: int, batch_size: int = 8
) -> dict[str, float]:
    """Token-weighted mean loss and perplexity over the trained tokens of encoded ``rows``."""
    scores = label_logprobs(model, rows, pad_token_id=pad_token_id, batch_size=batch_size)
    total = sum(s for s, _ in scores)
    tokens = sum(n for _, n in scores)
    if tokens == 0:
        raise SftDataError("heldout_loss: no row has a trained token (all labels are -100)")
    loss = -total / tokens
    return {"loss": loss, "perplexity": math.exp(loss), "tokens": float(tokens)}


def answer_index(row: dict[str, Any], i: int) -> int:
    """The index of the right choice: an int, a letter ``"B"``, or the choice's own text."""
    choices, answer = row.get("choices"), row.get("answer")
    if not isinstance(choices, list) or len(choices) < 2:
        raise SftDataError(f"multiple choice row {i}: 'choices' must be a list of 2+ strings")
    if isinstance(answer, int) and not isinstance(answer, bool) and 0 <= answer < len(choices):
        return answer
    if isinstance(answer, str):
        if answer in choices:
            return choices.index(answer)
        letter = answer.strip().upper()
        if len(letter) == 1 and 0 <= ord(letter) - ord("A") < len(choices):
            return ord(letter) - ord("A")
    raise SftDataError(f"multiple choice row {i}: 'answer' {answer!r} names none of {choices}")


def multiple_choice(
    model: Any,
    tokenizer: Any,
    template: Any,
    rows: Sequence[dict[str, Any]],
    *,
    max_length: int = 1024,
    batch_size: int = 8,
) -> dict[str, float]:
    """Accuracy of picking the most likely choice as the assistant's reply to ``question``.

    ``acc`` compares summed log-likelihoods; ``acc_norm`` divides by the choice's length
    in characters (fairer when choices differ a lot in length).
    """
    import sftdata as sd

    encoded, owners = [], []
    for i, row in enumerate(rows):
        gold = answer_index(row, i)
        for j, choice in enumerate(row["choices"]):
            msgs = [
                {"role": "user", "content": str(row["question"])},
                {"role": "assistant", "content": str(choice)},
            ]
            encoded.append(
                sd.encode(msgs, tokenizer, template, max_length=max_length, loss_on="last")
            )
            owners.append((i, j, gold, len(str(choice)) or 1))
    scores = label_logprobs(
        model, encoded, pad_token_id=tokenizer.pad_token_id, batch_size=batch_size
    )
    best: dict[int, tuple[float, int]] = {}
    best_norm: dict[int, tuple[float, int]] = {}
    golds: dict[int, int] = {}
    for (i, j, gold, chars), (s, _) in zip(owners, scores, strict=True):
        golds[i] = gold
        if i not in best or s > best[i][0]:
            best[i] = (s, j)
        if i not in best_norm or s / chars > best_norm[i][0]:
            best_norm[i] = (s / chars, j)
    n = len(golds)
    return {
        "acc": sum(best[i][1] == g for i, g in golds.items()) / n,
        "acc_norm": sum(best_norm[i][1] == g for i, g in golds.items()) / n,
        "n": float(n),
    }


def _normalise(text: str) -> str:
    return " ".join(text.casefold().split())


def generation_metrics(
    model: Any,
    tokenizer: Any,
    template: Any,
    rows: Sequence[dict[str, Any]],
    *,
    max_new_tokens: int = 32,
    batch_size: int = 8,
) -> dict[str, float]:
    """Exact match and contains of greedy replies against each row's ``answer``."""
    from sfttrain._generate import generate_replies

    convs = [_prompt_messages(r, i) for i, r in enumerate(rows)]
    replies = generate_replies(
        model, tokenizer, template, convs, max_new_tokens=max_new_tokens, batch_size=batch_size
    )
    answers = [_normalise(str(r["answer"])) for r in rows]
    got = [_normalise(x) for x in replies]
    n = len(rows) or 1
    return {
        "exact_match": sum(a == g for a, g in zip(answers, got, strict=True)) / n,
        "contains": sum(a in g for a, g in zip(answers, got, strict=True)) / n,
        "n": float(len(rows)),
    }


def _prompt_messages(row: dict[str, Any], i: int) -> list[dict[str, str]]:
    if "messages" in row:
        return [
            dict(m)
            for m in row["messages"]
            if m["role"] != "assistant" or m is not row["messages"][-1]
        ]
    if "question" not in row or "answer" not in row:
        raise SftDataError(f"generation row {i}: needs 'question' (or 'messages') and 'answer'")
    return [{"role": "user", "content": str(row["question"])}]


def _read_jsonl(path: str | Path) -> list[dict[str, Any]]:
    rows = []
    for n, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as e:
                raise SftDataError(f"{path}:{n}: not valid JSON ({e.msg})") from None
    return rows


def evaluate(
    model_path: str | Path,
    *,
    heldout: str | Path | None = None,
    choices: str | Path | None = None,
    generation: str | Path | None = None,
    parser: str | None = None,
    max_length: int = 1024,
    batch_size: int = 8,
    max_new_tokens: int = 32,
) -> dict[str, dict[str, float]]:
    """Run the requested evaluations on a saved model or adapter folder.

    ``heldout``: chat rows (``messages``, or raw rows of ``parser``'s format), scored on
    their assistant tokens. ``choices``: multiple-choice rows. ``generation``:
    question/answer rows. Returns ``{"heldout": {...}, "choices": {...}, ...}``.
    """
    from sfttrain._generate import load_for_inference

    if heldout is None and choices is None and generation is None:
        raise SftDataError("evaluate: give at least one of heldout, choices, generation")
    model, tokenizer, template = load_for_inference(model_path)
    results: dict[str, dict[str, float]] = {}
    if heldout is not None:
        results["heldout"] = _heldout_file(
            model, tokenizer, template, heldout, parser, max_length, batch_size
        )
    if choices is not None:
        results["choices"] = multiple_choice(
            model,
            tokenizer,
            template,
            _read_jsonl(choices),
            max_length=max_length,
            batch_size=batch_size,
        )
    if generation is not None:
        results["generation"] = generation_metrics(
            model,
            tokenizer,
            template,
            _read_jsonl(generation),
            max_new_tokens=max_new_tokens,
            batch_size=batch_size,
        )
    return results


def _heldout_file(
    model: Any,
    tokenizer: Any,
    template: Any,
    path: str | Path,
    parser: str | None,
    max_length: int,
    batch_size: int,
) -> dict[str, float]:
    """Held-out loss of a chat file; rows longer than ``max_length`` are skipped and counted."""
    import sftdata as sd
    from sfttrain._data import parse_file

    kept, _ = sd.split_rejects(parse_file(str(path), parser))
    step = sd.Encode(tokenizer, template, max_length=max_length)
    encoded, rejected = sd.split_rejects(sd.apply(kept, step))
    out = heldout_loss(
        model, encoded.to_list(), pad_token_id=tokenizer.pad_token_id, batch_size=batch_size
    )
    out["rows_skipped"] = float(len(rejected))
    return out
