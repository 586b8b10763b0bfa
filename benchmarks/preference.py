"""Preference encoding throughput: ``sd.EncodePreference`` against TRL's DPO tokenization.

    python benchmarks/preference.py [--rows 8000] [--peer-rows 3000] [--batch 1000] [--repeat 3]

Pairs: the conversations of ``../shared/data/sharegpt_dummy_conversation.json`` (parsed
with ``sd.parse.sharegpt``), each cut after its last user turn into a prompt, its last
answer as ``chosen`` and the last answer of another conversation as ``rejected``,
replicated to ``--rows`` pairs, each message of each copy prefixed with its row number
so that no two pairs share a text (synthetic pairs if the file is absent). One tokenizer for
everyone: the LLaMA sentencepiece tokenizer (from `mistral-common`) with ``<|im_start|>``
/ ``<|im_end|>`` added, and one template text: the chat_template TRL renders with is
``sd.templates.get("chatml").to_jinja()``.

Contenders, all in this process, on the same pairs:

* ``sftdata``: ``sd.EncodePreference(tok, "chatml", max_length=...)`` called on batches of
  ``--batch`` pairs (ids, labels, prompt ids, prefix checked);
* ``trl``: what TRL 1.16's ``DPOTrainer._prepare_dataset`` does per row (its
  ``tokenize_fn``): ``trl.data_utils._tokenize`` of the prompt with the generation
  prompt, of prompt + chosen and of prompt + rejected (``apply_chat_template``), then
  ``common_prefix_length``;
* the same two through ``datasets.map`` on a ``Dataset``: ``sd.apply(ds, step)`` and
  ``DPOTrainer._prepare_dataset`` itself (called on a stand-in trainer holding the
  tokenizer), single process.

The peers run on the first ``--peer-rows`` pairs (their per-row cost is flat); rates are
pairs per second, the best of ``--repeat`` interleaved runs (the machine may be shared). The ids are compared: TRL's ``prompt_ids + chosen_ids`` against our
``chosen_input_ids``.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import tempfile
import time
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

import sftdata as sd

# ../shared/data next to the checkout (the nearest one up the tree)
DATA = next(
    (p / "shared" / "data" for p in Path(__file__).resolve().parents if (p / "shared").is_dir()),
    Path("shared") / "data",
)
Pair = dict[str, list[dict[str, str]]]


def chatml_tokenizer() -> Any:
    """The LLaMA sentencepiece tokenizer plus ChatML's control tokens and chat_template."""
    import mistral_common
    from transformers import LlamaTokenizer

    folder = Path(tempfile.mkdtemp())
    model = Path(mistral_common.__file__).parent / "data" / "tokenizer.model.v1"
    shutil.copy(model, folder / "tokenizer.model")
    tok = LlamaTokenizer.from_pretrained(str(folder))
    tok.add_special_tokens({"additional_special_tokens": ["<|im_start|>", "<|im_end|>"]})
    tok.chat_template = sd.templates.get("chatml").to_jinja()  # the same template text
    return tok


def sharegpt_pairs(n: int) -> list[Pair]:
    convs: list[list[dict[str, str]]] = []
    path = DATA / "sharegpt_dummy_conversation.json"
    if path.exists():
        for record in json.loads(path.read_text()):
            try:
                convs.append(sd.parse.sharegpt(record)["messages"])
            except sd.RowError:
                continue
    base: list[Pair] = []
    for k, conv in enumerate(convs):
        last = max(i for i, m in enumerate(conv) if m["role"] == "assistant")
        other = convs[(k + 1) % len(convs)]
        answer = [m for m in other if m["role"] == "assistant"][-1]
        if conv[last - 1]["role"] == "user" and answer["content"] != conv[last]["content"]:
            base.append({"prompt": conv[:last], "chosen": [conv[last]], "rejected": [answer]})
    if not base:
        base = synthetic_pairs(200)
    return [_numbered(base[i % len(base)], i) for i in range(n)]


def _numbered(pair: Pair, i: int) -> Pair:
    """A copy whose every message starts with its row number: no two rows share a text
    (a replicated set would let a tokenizer cache, ours included, skip the repeats)."""
    return {k: [{**m, "content": f"({i}) {m['content']}"} for m in v] for k, v in pair.items()}


def synthetic_pairs(n: int, *, seed: int = 0) -> list[Pair]:
    rng = random.Random(seed)
    vocab = ["the", "a", "of", "to", "and", "in", "is", "it", "you", "that", "for", "on", "with"]

    def text(lo: int, hi: int) -> str:
        return " ".join(rng.choice(vocab) for _ in range(rng.randint(lo, hi))).capitalize() + "."

    return [
        {
            "prompt": [{"role": "user", "content": text(20, 120)}],
            "chosen": [{"role": "assistant", "content": text(30, 200)}],
            "rejected": [{"role": "assistant", "content": text(30, 200)}],
        }
        for _ in range(n)
    ]


def ours(tok: Any, pairs: list[Pair], batch: int) -> list[dict[str, Any]]:
    step = sd.EncodePreference(tok, "chatml", max_length=1_000_000)
    out: list[dict[str, Any]] = []
    for i in range(0, len(pairs), batch):
        chunk = pairs[i : i + batch]
        got = step({c: [p[c] for p in chunk] for c in ("prompt", "chosen", "rejected")})
        out += [{k: got[k][j] for k in got} for j in range(len(chunk))]
    return out


def trl_rows(tok: Any, pairs: list[Pair]) -> list[dict[str, list[int]]]:
    """TRL's per-row DPO tokenization (the body of DPOTrainer's ``tokenize_fn``)."""
    from trl.data_utils import _tokenize, common_prefix_length

    out = []
    for p in pairs:
        prompt = _tokenize(tok, p["prompt"], add_generation_prompt=True)["input_ids"]
        chosen = _tokenize(tok, p["prompt"] + p["chosen"])["input_ids"]
        rejected = _tokenize(tok, p["prompt"] + p["rejected"])["input_ids"]
        n = min(common_prefix_length(prompt, chosen), common_prefix_length(prompt, rejected))
        out.append(
            {"prompt_ids": prompt[:n], "chosen_ids": chosen[n:], "rejected_ids": rejected[n:]}
        )
    return out


def trl_dataset(tok: Any, ds: Any) -> Any:
    from trl import DPOConfig
    from trl.trainer.dpo_trainer import DPOTrainer

    args = DPOConfig(
        output_dir=tempfile.mkdtemp(), max_length=None, report_to=[], use_cpu=True, bf16=False
    )
    trainer = types.SimpleNamespace(_tokenizer=tok)  # all _prepare_dataset reads of self
    return DPOTrainer._prepare_dataset(trainer, ds, tok, args, "train")  # type: ignore[arg-type]


def timed(fn: Callable[[], Any], rows: int) -> tuple[float, Any]:
    start = time.perf_counter()
    out = fn()
    return rows / (time.perf_counter() - start), out


def main() -> None:
    import datasets

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=8000)
    parser.add_argument("--peer-rows", type=int, default=3000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    a = parser.parse_args()
    tok = chatml_tokenizer()
    pairs = sharegpt_pairs(a.rows)
    peer = pairs[: a.peer_rows]
    ours(tok, pairs[:200], a.batch)  # warm-up: compiled shapes, shared pieces
    trl_rows(tok, pairs[:50])

    # The machine may be shared: each contender runs --repeat times, interleaved, and
    # its best rate counts.
    rate_ours = rate_trl = 0.0
    for _ in range(a.repeat):
        r, encoded = timed(lambda: ours(tok, pairs, a.batch), len(pairs))
        rate_ours = max(rate_ours, r)
        r, theirs = timed(lambda: trl_rows(tok, peer), len(peer))
        rate_trl = max(rate_trl, r)
    same = sum(
        t["prompt_ids"] + t["chosen_ids"] == e["chosen_input_ids"].tolist()
        and t["prompt_ids"] + t["rejected_ids"] == e["rejected_input_ids"].tolist()
        for t, e in zip(theirs, encoded, strict=False)
    )
    kept = sum(e["drop_reason"] is None for e in encoded)

    columns = {c: [p[c] for p in peer] for c in ("prompt", "chosen", "rejected")}
    ds = datasets.Dataset.from_dict(columns)
    step = sd.EncodePreference(tok, "chatml", max_length=1_000_000)
    datasets.disable_caching()
    rate_ds_ours = rate_ds_trl = 0.0
    for _ in range(a.repeat):
        r, _ = timed(lambda: sd.apply(ds, step, batch_size=a.batch), len(peer))
        rate_ds_ours = max(rate_ds_ours, r)
        r, _ = timed(lambda: trl_dataset(tok, ds), len(peer))
        rate_ds_trl = max(rate_ds_trl, r)

    print(f"pairs: {len(pairs)} (peers: {len(peer)}), kept by sftdata: {kept}")
    print(f"ids equal to TRL's on {same}/{len(peer)} pairs")
    print(f"{'contender':<44} {'pairs/s':>10}")
    print(f"{'sftdata EncodePreference (batches)':<44} {rate_ours:>10.0f}")
    print(f"{'trl tokenize_fn body (per row)':<44} {rate_trl:>10.0f}")
    print(f"{'sftdata via datasets.map (sd.apply)':<44} {rate_ds_ours:>10.0f}")
    print(f"{'trl DPOTrainer._prepare_dataset':<44} {rate_ds_trl:>10.0f}")
    print(f"ratio, steps alone:        {rate_ours / rate_trl:.1f}x")
    print(f"ratio, through datasets:   {rate_ds_ours / rate_ds_trl:.1f}x")


if __name__ == "__main__":
    main()
