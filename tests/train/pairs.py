"""Preference pairs for the trainer tests, encoded by ``sd.encode_preference``.

Each pair is checked against the contract the trainer relies on: each side's ids and
labels equal ``sd.encode(prompt + answer)`` (the SFT encoding) and the prompt ids are
the part before the first labelled token.
"""

from __future__ import annotations

from typing import Any

#: (prompt, chosen, rejected): short, distinct answers a tiny model separates quickly.
PAIRS = [
    ("What colour is the sky?", "Blue.", "Green, with purple dots."),
    ("Two plus two?", "Four.", "Seven hundred."),
    ("Capital of France?", "Paris.", "I do not know."),
    ("Say hello.", "Hello there!", "No."),
    ("Opposite of hot?", "Cold.", "Hot again, probably."),
    ("Name a fruit.", "An apple.", "A car."),
]


def encode_pair(prompt: str, chosen: str, rejected: str, tokenizer: Any) -> dict[str, list[int]]:
    import sftdata as sd

    user = [{"role": "user", "content": prompt}]
    row = {"prompt": user, "chosen": chosen, "rejected": rejected}
    enc = sd.encode_preference(row, tokenizer, "llama2", max_length=128)
    out = {k: [int(x) for x in v] for k, v in enc.items()}
    for side, answer in (("chosen", chosen), ("rejected", rejected)):
        sft = sd.encode(
            [*user, {"role": "assistant", "content": answer}], tokenizer, "llama2", max_length=128
        )
        assert out[f"{side}_input_ids"] == [int(x) for x in sft["input_ids"]]
        assert out[f"{side}_labels"] == [int(x) for x in sft["labels"]]
    first = next(i for i, x in enumerate(out["chosen_labels"]) if x != -100)
    assert out["prompt_input_ids"] == out["chosen_input_ids"][:first]
    return out


def pair_rows(tokenizer: Any, pairs: list[tuple[str, str, str]] | None = None) -> Any:
    """``PAIRS`` as a ``datasets.Dataset`` of encoded pair rows."""
    import datasets

    return datasets.Dataset.from_list([encode_pair(*p, tokenizer) for p in pairs or PAIRS])
