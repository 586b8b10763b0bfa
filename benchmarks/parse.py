"""Parser throughput vs a bare key-renaming baseline; reject counts on real data.

    python benchmarks/parse.py [--rows 50000] [--shared ../shared/data]

Part 1, one process, the same synthetic rows (seeded, 1-4 turns of 5-60 words):

* ``sftdata``: the batched step called on one columnar batch of ``--rows`` rows
  (validation, reason codes, ``raw`` for rejects, carried ``id``);
* ``bare``: a dict comprehension that only renames keys, no validation at all: the
  floor any parser pays. The ratio says what validation costs on top of it.
* ``ds.map``: the same step through ``datasets.Dataset.map(batched=True)`` with
  ``features=``, Arrow conversion included (rows/s).

Part 2 (when ``--shared`` exists): the ShareGPT and alpaca seed-task files parsed with
the default steps, one line per drop reason.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import sftdata as sd

WORDS = [
    "the",
    "a",
    "data",
    "model",
    "train",
    "token",
    "chat",
    "answer",
    "question",
    "small",
    "large",
    "fast",
    "slow",
]


def _text(rng: random.Random) -> str:
    return " ".join(rng.choices(WORDS, k=rng.randint(5, 60)))


def _conv(rng: random.Random) -> list[tuple[str, str]]:
    return [(_text(rng), _text(rng)) for _ in range(rng.randint(1, 4))]


def sharegpt_rows(n: int, rng: random.Random) -> dict[str, list[Any]]:
    convs = [_conv(rng) for _ in range(n)]
    turns = [
        [t for u, a in c for t in ({"from": "human", "value": u}, {"from": "gpt", "value": a})]
        for c in convs
    ]
    return {"id": [f"r{i}" for i in range(n)], "conversations": turns}


def alpaca_rows(n: int, rng: random.Random) -> dict[str, list[Any]]:
    return {
        "id": [f"r{i}" for i in range(n)],
        "instruction": [_text(rng) for _ in range(n)],
        "input": [_text(rng) if rng.random() < 0.4 else "" for _ in range(n)],
        "output": [_text(rng) for _ in range(n)],
    }


def oasst1_rows(n: int, rng: random.Random) -> dict[str, list[Any]]:
    texts = ["".join(f"### Human: {u}### Assistant: {a}" for u, a in _conv(rng)) for _ in range(n)]
    return {"id": [f"r{i}" for i in range(n)], "text": texts}


def bare_sharegpt(batch: dict[str, list[Any]]) -> list[list[dict[str, str]]]:
    names = {"human": "user", "gpt": "assistant"}
    return [
        [{"role": names[t["from"]], "content": t["value"]} for t in c]
        for c in batch["conversations"]
    ]


def bare_alpaca(batch: dict[str, list[Any]]) -> list[list[dict[str, str]]]:
    return [
        [
            {"role": "user", "content": f"{i}\n\n{x}" if x else i},
            {"role": "assistant", "content": o},
        ]
        for i, x, o in zip(batch["instruction"], batch["input"], batch["output"], strict=True)
    ]


def bare_oasst1(batch: dict[str, list[Any]]) -> list[list[dict[str, str]]]:
    out = []
    for text in batch["text"]:
        turns = [t for t in text.split("### ") if t]
        out.append(
            [
                {
                    "role": "user" if t.startswith("Human:") else "assistant",
                    "content": t[t.index(":") + 1 :].strip(),
                }
                for t in turns
            ]
        )
    return out


def _best(fn: Callable[[], Any], repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def part1(n: int) -> None:
    import datasets

    cases = [
        ("sharegpt", sd.parse.ShareGPT(), sharegpt_rows, bare_sharegpt),
        ("alpaca", sd.parse.Alpaca(), alpaca_rows, bare_alpaca),
        ("oasst1", sd.parse.Oasst1(), oasst1_rows, bare_oasst1),
    ]
    print(
        f"{'format':<10} {'sftdata rows/s':>15} {'bare rows/s':>12} {'ratio':>6} {'ds.map rows/s':>14}"
    )
    for name, step, make, bare in cases:
        batch = make(n, random.Random(0))
        assert [m for m in step(batch)["messages"]] == bare(batch), name  # same answer
        ours, floor = _best(lambda: step(batch)), _best(lambda: bare(batch))  # noqa: B023
        ds = datasets.Dataset.from_dict(batch)
        t_map = _best(
            lambda: ds.map(  # noqa: B023
                step,  # noqa: B023
                batched=True,
                remove_columns=ds.column_names,  # noqa: B023
                features=step.features(ds.features),  # noqa: B023
                load_from_cache_file=False,
                keep_in_memory=True,
            ),
            repeat=1,
        )
        print(
            f"{name:<10} {n / ours:>15,.0f} {n / floor:>12,.0f} {ours / floor:>6.2f} {n / t_map:>14,.0f}"
        )


def part2(shared: Path) -> None:
    import datasets

    datasets.disable_progress_bars()
    files = [
        ("sharegpt_dummy_conversation.json", sd.parse.ShareGPT()),
        ("alpaca_seed_tasks.jsonl", sd.parse.Alpaca()),
        ("alpaca_seed_tasks.jsonl", sd.parse.Alpaca(instances="expand")),
    ]
    for name, step in files:
        ds = datasets.load_dataset("json", data_files=str(shared / name), split="train")
        out = ds.map(
            step, batched=True, remove_columns=ds.column_names, features=step.features(ds.features)
        )
        counters = sd.Counters.from_dataset(out)
        print(f"\n{name} with {step!r}\n{counters.to_table()}")
        for raw, reason in zip(
            sd.split_rejects(out)[1]["raw"], sd.split_rejects(out)[1]["drop_reason"], strict=True
        ):
            print(f"  {reason}: {json.loads(raw).get('id')}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument(
        "--shared", type=Path, default=Path(__file__).parents[2] / "shared" / "data"
    )
    args = parser.parse_args()
    part1(args.rows)
    if args.shared.exists():
        part2(args.shared)


if __name__ == "__main__":
    main()
