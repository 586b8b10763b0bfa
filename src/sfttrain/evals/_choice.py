"""Multiple choice by log-likelihood, one forward pass per item whatever its number of choices.

Requests are lm-eval's: the context (description, shots, prompt) and, per choice, the
continuation ``delimiter + choice``; trailing spaces of the context move to the
continuation, ``context + continuation`` is tokenized whole and the continuation's
tokens are what follows the context's own tokens. The log-likelihood of a choice is
the sum of its tokens' log-probabilities. ``acc`` picks the largest; ``acc_norm``
divides by the choice's length in characters and ``acc_bytes`` by its UTF-8 bytes,
as lm-eval's ``process_results`` does.

What differs is the forward pass. The choices of an item share their context, so the
item is packed into one row: the shared tokens once, then each choice's tokens, with
a mask that lets a choice see the shared part and itself only, and positions that
continue from the shared part for every choice::

    tokens     c0 c1 c2 c3 | A1 A2 | B1 B2      (scored: A1 A2 A3, B1 B2 B3)
    positions   0  1  2  3 |  4  5 |  4  5
    B1 sees    c0 c1 c2 c3           B1

(The last token of a choice is scored but never fed in.) Four one-token choices
(MMLU's `` A`` .. `` D``) cost one forward pass over the context instead of four (a
plain causal pass: nothing is packed after the context), and only the rows that
score a token go through the output layer.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sfttrain.evals._items import Item, context


@dataclass(frozen=True)
class Request:
    """One item's choices as token ids: ``(context_ids, continuation_ids)`` per choice."""

    pairs: tuple[tuple[tuple[int, ...], tuple[int, ...]], ...]


def _split(ctx: str, continuation: str) -> tuple[str, str]:
    """Trailing spaces of the context move to the continuation (lm-eval's rule)."""
    n = len(ctx) - len(ctx.rstrip())
    return (ctx[:-n], ctx[-n:] + continuation) if n else (ctx, continuation)


def encode_pair(
    tokenizer: Any, ctx: str, continuation: str, *, bos: bool
) -> tuple[list[int], list[int]]:
    """lm-eval's split: trailing spaces move to the continuation, the whole is tokenized once.

    ``bos=True`` puts the tokenizer's BOS id first (what lm-eval does with
    ``add_bos_token=True``); ``bos=False`` adds no special token (lm-eval's default).
    """
    ctx, continuation = _split(ctx, continuation)
    first = [tokenizer.bos_token_id] if bos and tokenizer.bos_token_id is not None else []
    whole = tokenizer(ctx + continuation, add_special_tokens=False).input_ids
    head = tokenizer(ctx, add_special_tokens=False).input_ids
    return first + head, whole[len(head) :]


def requests(
    items: Sequence[Item],
    tokenizer: Any,
    *,
    bos: bool = True,
    shots: Sequence[Sequence[Item]] | None = None,
    template: Any = None,
) -> list[Request]:
    """The token ids to score for each choice item (plain text, or with a chat template).

    Plain text gives exactly :func:`encode_pair`'s ids, but each context is tokenized
    once per item (not once per choice), in two batched tokenizer calls overall.
    """
    for item in items:
        if item.kind != "choice":
            raise ValueError(f"item {item.id!r} of {item.task!r} is {item.kind!r}, not 'choice'")
    texts = [context(item, shots[k] if shots else ()) for k, item in enumerate(items)]
    if template is not None:
        return [
            Request(tuple(_chat_pair(tokenizer, template, t, c) for c in it.choices))
            for it, t in zip(items, texts, strict=True)
        ]
    heads = [_split(t, "")[0] for t in texts]
    wholes = [
        "".join(_split(t, it.delimiter + c))
        for it, t in zip(items, texts, strict=True)
        for c in it.choices
    ]
    head_ids = tokenizer(heads, add_special_tokens=False).input_ids
    whole_ids = iter(tokenizer(wholes, add_special_tokens=False).input_ids)
    first = (tokenizer.bos_token_id,) if bos and tokenizer.bos_token_id is not None else ()
    out = []
    for it, head in zip(items, head_ids, strict=True):
        ctx = (*first, *head)
        out.append(Request(tuple((ctx, tuple(next(whole_ids)[len(head) :])) for _ in it.choices)))
    return out


def _chat_pair(
    tokenizer: Any, template: Any, prompt: str, choice: str
) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """The prompt as a user turn, the choice as the assistant reply (its trained tokens scored)."""
    import sftdata as sd

    msgs = [{"role": "user", "content": prompt}, {"role": "assistant", "content": choice}]
    row = sd.encode(msgs, tokenizer, template, max_length=1 << 20, loss_on="last")
    ids, labels = row["input_ids"].tolist(), row["labels"].tolist()
    first = next(i for i, x in enumerate(labels) if x != -100)
    return tuple(ids[:first]), tuple(ids[first:])


@dataclass(frozen=True)
class _Packed:
    ids: list[int]
    positions: list[int]
    block: list[int]  # -1: shared; j: choice j
    scored: list[tuple[int, int, int]]  # (row in ids whose logits predict, token, choice)


def pack(request: Request, max_length: int) -> _Packed:
    """One item's choices as one row (see the module docstring)."""
    fulls, starts = [], []
    for ctx, cont in request.pairs:
        full = list(ctx + cont)
        cut = max(0, len(full) - (max_length + 1))  # lm-eval's left truncation
        fulls.append(full[cut:])
        starts.append(max(1, len(ctx) - cut))
    shared = 0
    limit = min(starts)
    while shared < limit and all(f[shared] == fulls[0][shared] for f in fulls):
        shared += 1
    ids, positions, block = fulls[0][:shared], list(range(shared)), [-1] * shared
    scored = []
    for j, full in enumerate(fulls):
        offset = len(ids) - shared
        tail = full[shared:-1]
        ids += tail
        positions += range(shared, shared + len(tail))
        block += [j] * len(tail)
        for i in range(starts[j], len(full)):
            row = i - 1 if i - 1 < shared else offset + i - 1
            scored.append((row, full[i], j))
    return _Packed(ids, positions, block, scored)


def loglikelihoods(
    model: Any,
    reqs: Sequence[Request],
    *,
    batch_size: int = 8,
    max_length: int = 2048,
    progress: bool = False,
) -> list[list[float]]:
    """Per request, the summed log-probability of each choice's continuation."""
    import numpy as np
    import torch
    from tqdm.auto import tqdm

    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    packed = [pack(r, max_length) for r in reqs]
    order = sorted(range(len(packed)), key=lambda i: -len(packed[i].ids))
    out = [[0.0] * len(r.pairs) for r in reqs]
    device = next(model.parameters()).device
    model.eval()
    bar = tqdm(total=len(reqs), desc="multiple choice", disable=not progress, unit="item")
    for start in range(0, len(order), batch_size):
        chunk = order[start : start + batch_size]
        rows = [packed[i] for i in chunk]
        ids, pos, mask = _batch(rows, _mask_dtype(model))
        b_idx = np.concatenate([[b] * len(p.scored) for b, p in enumerate(rows)]).astype(int)
        r_idx = np.array([s[0] for p in rows for s in p.scored])
        toks = torch.tensor([s[1] for p in rows for s in p.scored], device=device)
        if all(b == -1 for p in rows for b in p.block):
            # only one-token choices: a plain causal pass (right padding is never attended)
            pos, mask = None, None
        with torch.inference_mode():
            logits = _logits_at(
                model,
                ids.to(device),
                None if pos is None else pos.to(device),
                None if mask is None else mask.to(device),
                b_idx,
                r_idx,
            )
            picked = torch.log_softmax(logits.float(), -1).gather(-1, toks[:, None])[:, 0]
        values = iter(picked.tolist())
        for i, p in zip(chunk, rows, strict=True):
            for _, _, j in p.scored:
                out[i][j] += next(values)
        bar.update(len(chunk))
    bar.close()
    return out


def _mask_dtype(model: Any) -> str:
    impl = getattr(getattr(model, "config", None), "_attn_implementation", "sdpa")
    return "float" if impl == "eager" else "bool"


def _batch(rows: Sequence[_Packed], dtype: str) -> tuple[Any, Any | None, Any | None]:
    """Right-padded ids, positions and the 4D ``(batch, 1, width, width)`` choice mask."""
    import numpy as np
    import torch

    width = max(len(p.ids) for p in rows)
    ids = np.zeros((len(rows), width), dtype=np.int64)
    pos = np.zeros((len(rows), width), dtype=np.int64)
    allowed = np.zeros((len(rows), 1, width, width), dtype=bool)
    causal = np.tril(np.ones((width, width), dtype=bool))
    for b, p in enumerate(rows):
        n = len(p.ids)
        ids[b, :n], pos[b, :n] = p.ids, p.positions
        block = np.array(p.block)
        same = (block[None, :] == -1) | (block[None, :] == block[:, None])
        allowed[b, 0, :n, :n] = same & causal[:n, :n]
        allowed[b, 0, range(n, width), range(n, width)] = True  # padding sees itself: no NaN
    mask = torch.from_numpy(allowed)
    if dtype == "float":
        mask = torch.zeros(mask.shape).masked_fill(~mask, torch.finfo(torch.float32).min)
    return torch.from_numpy(ids), torch.from_numpy(pos), mask


def _logits_at(model: Any, ids: Any, pos: Any, mask: Any, b_idx: Any, r_idx: Any) -> Any:
    """Logits of the rows ``(b_idx, r_idx)`` only: the output layer runs on those rows."""
    head = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
    capped = getattr(getattr(model, "config", None), "final_logit_softcapping", None)
    if head is not None and hasattr(model, "get_decoder") and not capped:
        hidden = model.get_decoder()(input_ids=ids, attention_mask=mask, position_ids=pos)
        return head(hidden.last_hidden_state[b_idx, r_idx])
    out = model(input_ids=ids, attention_mask=mask, position_ids=pos).logits
    return out[b_idx, r_idx]


def choice_scores(items: Sequence[Item], lls: Sequence[Sequence[float]]) -> dict[str, list[float]]:
    """Per-item 0/1 ``acc``, ``acc_norm``, ``acc_bytes``, the answer's probability and confidence.

    ``prob_gold`` and ``confidence`` come from a softmax over the choices' log-likelihoods
    (for calibration: ``confidence`` is the top choice's probability).

    >>> it = Item(task="t", id="0", kind="choice", question="q", choices=("ab", "c"), gold=1)
    >>> {k: v[0] for k, v in choice_scores([it], [[-2.0, -1.5]]).items()}["acc_norm"]
    0.0
    """
    out: dict[str, list[float]] = {
        k: [] for k in ("acc", "acc_norm", "acc_bytes", "prob_gold", "confidence")
    }
    for item, ll in zip(items, lls, strict=True):
        chars = [float(len(c)) for c in item.choices]
        nbytes = [float(len(c.encode("utf-8"))) for c in item.choices]
        out["acc"].append(float(_argmax(ll) == item.gold))
        out["acc_norm"].append(
            float(_argmax([x / n for x, n in zip(ll, chars, strict=True)]) == item.gold)
        )
        out["acc_bytes"].append(
            float(_argmax([x / n for x, n in zip(ll, nbytes, strict=True)]) == item.gold)
        )
        top = max(ll)
        e = [math.exp(x - top) for x in ll]
        out["prob_gold"].append(e[item.gold] / sum(e))
        out["confidence"].append(max(e) / sum(e))
    return out


def _argmax(values: Sequence[float]) -> int:
    """The first index of the largest value (numpy's tie rule, as lm-eval uses)."""
    best = 0
    for i, v in enumerate(values):
        if v > values[best]:
            best = i
    return best
