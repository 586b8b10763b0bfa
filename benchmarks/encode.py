"""Encode throughput: ``sd.Encode`` against the raw tokenizer and two common peers.

    python benchmarks/encode.py [--rows 20000] [--long-rows 2000] [--peer-rows 3000] [--batch 1000]

Two data sets, ChatML template, the LLaMA sentencepiece tokenizer (from the
`mistral-common` package) with ``<|im_start|>`` / ``<|im_end|>`` added:

* ``sharegpt``: ``../shared/data/sharegpt_dummy_conversation.json`` replicated to
  ``--rows`` conversations (parsed with ``sd.parse.sharegpt``);
* ``long``: ``--long-rows`` synthetic conversations of 8-16 turns, 50-400 words each.

Contenders, all in this process, timed on the same conversations:

* ``sftdata``: ``sd.Encode(tok, "chatml", max_length=...)`` on batches of ``--batch`` rows;
* ``(a) raw``: one batched ``tokenizer(texts, add_special_tokens=False)`` call per batch on
  the already-rendered strings (no labels): the upper bound;
* ``(b) per-piece``: ``tokenizer.encode`` each turn's prompt and answer separately (two
  calls per turn) and concatenate, labels from the answer pieces (the approach of
  xtuner's ``encode_fn``), row by row;
* ``(c) apply_chat_template``: ``tokenizer.apply_chat_template(messages, tokenize=True,
  return_dict=True, return_assistant_tokens_mask=True)`` row by row, with a ChatML
  template carrying ``{% generation %}`` markers.

The peers are timed on the first ``--peer-rows`` rows of each set (their per-row cost
is flat); rates are per second, so the ratios compare like with like.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import sftdata as sd

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
CHATML_JINJA = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' }}"
    "{% if message['role'] == 'assistant' %}"
    "{% generation %}{{ message['content'] + '<|im_end|>' }}{% endgeneration %}{{ '\\n' }}"
    "{% else %}{{ message['content'] + '<|im_end|>' + '\\n' }}{% endif %}"
    "{% endfor %}"
)


def chatml_tokenizer() -> Any:
    import mistral_common
    from transformers import LlamaTokenizer

    folder = Path(tempfile.mkdtemp())
    shutil.copy(
        Path(mistral_common.__file__).parent / "data" / "tokenizer.model.v1",
        folder / "tokenizer.model",
    )
    tok = LlamaTokenizer.from_pretrained(str(folder))
    tok.add_special_tokens({"additional_special_tokens": ["<|im_start|>", "<|im_end|>"]})
    tok.chat_template = CHATML_JINJA
    return tok


def sharegpt_rows(n: int) -> list[list[dict[str, str]]]:
    raw = json.loads((DATA / "sharegpt_dummy_conversation.json").read_text())
    convs = []
    for record in raw:
        try:
            convs.append(sd.parse.sharegpt(record)["messages"])
        except sd.RowError:
            continue
    return [convs[i % len(convs)] for i in range(n)]


def long_rows(n: int, *, seed: int = 0) -> list[list[dict[str, str]]]:
    rng = random.Random(seed)
    vocab = [
        "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(2, 9)))
        for _ in range(5000)
    ]

    def text() -> str:
        words = rng.choices(vocab, k=rng.randint(50, 400))
        return " ".join(words) + rng.choice([".", "?", "!\n", ":\n- item"])

    out = []
    for _ in range(n):
        conv = [{"role": "system", "content": text()}] if rng.random() < 0.3 else []
        for _ in range(rng.randint(4, 8)):
            conv += [{"role": "user", "content": text()}, {"role": "assistant", "content": text()}]
        out.append(conv)
    return out


def run_sftdata(tok: Any, rows: list[Any], batch: int) -> int:
    step = sd.Encode(tok, "chatml", max_length=1_000_000)
    tokens = 0
    for i in range(0, len(rows), batch):
        out = step({"messages": rows[i : i + batch]})
        tokens += sum(len(x) for x in out["input_ids"])
    return tokens


def run_raw(tok: Any, texts: list[str], batch: int) -> int:
    tokens = 0
    for i in range(0, len(texts), batch):
        enc = tok(texts[i : i + batch], add_special_tokens=False)
        tokens += sum(len(x) for x in enc["input_ids"])
    return tokens


def encode_per_piece(tok: Any, messages: list[dict[str, str]]) -> dict[str, list[int]]:
    """Two tokenizer calls per turn: the prompt (previous separator, system/user turns,
    assistant header) and the answer with its end token; labels from the answers."""
    ids: list[int] = []
    labels: list[int] = []
    prompt = ""
    for m in messages:
        if m["role"] != "assistant":
            prompt += f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n"
            continue
        prompt += "<|im_start|>assistant\n"
        p = tok.encode(prompt, add_special_tokens=False)
        a = tok.encode(m["content"] + "<|im_end|>", add_special_tokens=False)
        ids += p + a
        labels += [-100] * len(p) + a
        prompt = "\n"  # the separator opens the next turn's prompt
    return {"input_ids": ids, "labels": labels}


def run_per_piece(tok: Any, rows: list[Any]) -> int:
    return sum(len(encode_per_piece(tok, r)["input_ids"]) for r in rows)


def run_chat_template(tok: Any, rows: list[Any]) -> int:
    tokens = 0
    for r in rows:
        out = tok.apply_chat_template(
            r, tokenize=True, return_dict=True, return_assistant_tokens_mask=True
        )
        tokens += len(out["input_ids"])
    return tokens


def bench(name: str, tok: Any, rows: list[Any], args: argparse.Namespace) -> None:
    template = sd.templates.get("chatml")
    texts = [template.render(r) for r in rows]
    peer = rows[: args.peer_rows]
    contenders: dict[str, tuple[int, Callable[[], int]]] = {
        "sftdata Encode": (len(rows), lambda: run_sftdata(tok, rows, args.batch)),
        "(a) raw batched tokenizer": (len(rows), lambda: run_raw(tok, texts, args.batch)),
        "(b) per-piece (xtuner-style)": (len(peer), lambda: run_per_piece(tok, peer)),
        "(c) apply_chat_template": (len(peer), lambda: run_chat_template(tok, peer)),
    }
    # Rounds interleave the contenders, so a slow spell of the machine does not land on
    # one of them alone; each keeps its best round.
    best = {label: (float("inf"), 0) for label in contenders}
    for _ in range(args.repeat):
        for label, (_, fn) in contenders.items():
            t0 = time.perf_counter()
            tokens = fn()
            secs = time.perf_counter() - t0
            best[label] = min(best[label], (secs, tokens))
    print(f"\n== {name}: {len(rows)} rows ({len(peer)} for peers b, c)")
    print(f"{'contender':32} {'rows':>7} {'seconds':>8} {'rows/s':>10} {'tokens/s':>11}")
    rates = {}
    for label, (n, _) in contenders.items():
        secs, tokens = best[label]
        rates[label] = n / secs
        print(f"{label:32} {n:>7} {secs:>8.2f} {n / secs:>10.0f} {tokens / secs:>11.0f}")
    ours, raw = rates["sftdata Encode"], rates["(a) raw batched tokenizer"]
    for label in list(rates)[1:]:
        print(f"  sftdata / {label}: {ours / rates[label]:.2f}x rows/s")
    for label in list(rates)[2:]:  # what an encoder as fast as the upper bound would reach
        print(f"  ceiling: (a) raw / {label}: {raw / rates[label]:.2f}x rows/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--long-rows", type=int, default=2_000)
    parser.add_argument("--peer-rows", type=int, default=3_000)
    parser.add_argument("--batch", type=int, default=1_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    tok = chatml_tokenizer()
    bench("sharegpt", tok, sharegpt_rows(args.rows), args)
    bench("long synthetic", tok, long_rows(args.long_rows), args)


if __name__ == "__main__":
    main()
