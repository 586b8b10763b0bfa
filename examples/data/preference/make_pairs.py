"""Write the demo preference pairs (``python examples/data/preference/make_pairs.py``).

Small hand-written facts (capitals, opposites, plurals, sums), each asked once with a
right answer (chosen) and a wrong one of about the same length (rejected), so a
preference stage learns facts, not length. Every column holds message lists (one Arrow
type per column, so ``sftdata run`` reads every line), in the shapes
``sd.parse.preference`` reads, and a few rows are malformed on purpose:

- the canonical row (a system turn in some prompts); two full conversations without a
  prompt (TRL's implicit prompt)
- malformed: no rejected answer, identical answers, a bad role, a prompt that ends with
  an assistant turn, an empty chosen list -> rejected rows with reasons
- work for the later stages: mojibake in an answer (clean), an e-mail address in a
  prompt (safety), a prompt asked twice (dedup by prompt), a chosen answer ten times
  longer than its rejected one (``preference.pair`` with ``max_length_ratio``)

The output is deterministic; the committed file is its output.
"""

from __future__ import annotations

import json
from pathlib import Path

HERE = Path(__file__).parent

CAPITALS = [
    ("France", "Paris", "Lyon"), ("Italy", "Rome", "Milan"), ("Spain", "Madrid", "Seville"),
    ("Germany", "Berlin", "Munich"), ("Japan", "Tokyo", "Osaka"), ("Egypt", "Cairo", "Luxor"),
    ("Canada", "Ottawa", "Toronto"), ("Kenya", "Nairobi", "Mombasa"), ("Peru", "Lima", "Cusco"),
    ("Norway", "Oslo", "Bergen"), ("Greece", "Athens", "Patras"), ("Poland", "Warsaw", "Krakow"),
    ("Chile", "Santiago", "Valparaiso"), ("Ireland", "Dublin", "Cork"),
    ("Portugal", "Lisbon", "Porto"), ("Austria", "Vienna", "Salzburg"),
    ("Sweden", "Stockholm", "Malmo"), ("Finland", "Helsinki", "Turku"),
]  # fmt: skip
OPPOSITES = [
    ("hot", "cold", "warm"), ("big", "small", "large"), ("fast", "slow", "quick"),
    ("light", "dark", "bright"), ("early", "late", "soon"), ("full", "empty", "filled"),
    ("high", "low", "tall"), ("wet", "dry", "damp"), ("hard", "soft", "firm"),
    ("near", "far", "close"), ("loud", "quiet", "noisy"), ("strong", "weak", "tough"),
    ("thick", "thin", "wide"), ("happy", "sad", "glad"), ("clean", "dirty", "tidy"),
]  # fmt: skip
PLURALS = [
    ("child", "children", "childs"), ("mouse", "mice", "mouses"), ("leaf", "leaves", "leafs"),
    ("tooth", "teeth", "tooths"), ("foot", "feet", "foots"), ("wolf", "wolves", "wolfs"),
    ("goose", "geese", "gooses"), ("man", "men", "mans"), ("knife", "knives", "knifes"),
    ("city", "cities", "citys"), ("baby", "babies", "babys"), ("box", "boxes", "boxs"),
]  # fmt: skip
SYSTEM = "You are a concise assistant. Answer in one short sentence."


def _user(text: str) -> dict[str, str]:
    return {"role": "user", "content": text}


def _assistant(text: str) -> dict[str, str]:
    return {"role": "assistant", "content": text}


def good_rows() -> list[dict]:
    rows: list[dict] = []
    for i, (country, capital, other) in enumerate(CAPITALS):
        q = f"What is the capital of {country}?"
        good, bad = (
            f"The capital of {country} is {capital}.",
            f"The capital of {country} is {other}.",
        )
        if i % 3 == 0:  # message lists, a system turn in the prompt
            prompt = [{"role": "system", "content": SYSTEM}, _user(q)]
            rows.append(
                {"prompt": prompt, "chosen": [_assistant(good)], "rejected": [_assistant(bad)]}
            )
        elif i % 3 == 1:  # TRL's implicit prompt: two full conversations
            rows.append(
                {"chosen": [_user(q), _assistant(good)], "rejected": [_user(q), _assistant(bad)]}
            )
        else:
            rows.append(
                {"prompt": [_user(q)], "chosen": [_assistant(good)], "rejected": [_assistant(bad)]}
            )
    for word, right, wrong in OPPOSITES:
        q = f"What is the opposite of {word}?"
        rows.append({
            "prompt": [_user(q)],
            "chosen": [_assistant(f"The opposite of {word} is {right}.")],
            "rejected": [_assistant(f"The opposite of {word} is {wrong}.")],
        })  # fmt: skip
    for word, right, wrong in PLURALS:
        q = f"What is the plural of {word}?"
        rows.append({
            "prompt": [_user(q)],
            "chosen": [_assistant(f"The plural of {word} is {right}.")],
            "rejected": [_assistant(f"The plural of {word} is {wrong}.")],
        })  # fmt: skip
    for a in range(2, 12):
        b = a + 3
        q = f"What is {a} plus {b}?"
        rows.append(
            {
                "prompt": [_user(q)],
                "chosen": [_assistant(f"{a} plus {b} is {a + b}.")],
                "rejected": [_assistant(f"{a} plus {b} is {a + b + 1}.")],
            }
        )
    return [{"id": f"pref-{i:03d}", "source": "demo", **r} for i, r in enumerate(rows)]


def malformed_rows() -> list[dict]:
    u, a = _user, _assistant
    rows = [
        {"prompt": [u("What is the capital of Brazil?")], "chosen": [a("Brasilia.")]},
        {"prompt": [u("What is 1 plus 1?")], "chosen": [a("2.")], "rejected": [a("2.")]},
        {
            "prompt": [{"role": "robot", "content": "Beep?"}],
            "chosen": [a("Boop.")],
            "rejected": [a("Beep.")],
        },
        {"prompt": [u("Hi"), a("Hello!")], "chosen": [a("Bye.")], "rejected": [a("Hi.")]},
        {"prompt": [u("Name a colour.")], "chosen": [], "rejected": [a("Blue.")]},
    ]
    return [{"id": f"bad-{i}", "source": "demo", **r} for i, r in enumerate(rows)]


def stage_rows() -> list[dict]:
    u, a = _user, _assistant
    long = (
        "Paris is the capital of France, and it has been the seat of its government for centuries."
    )
    rows = [
        {
            "prompt": [u("Where can I buy a coffee?")],
            "chosen": [a("Try the CafÃ© on the corner.")],
            "rejected": [a("Nowhere at all.")],
        },
        {
            "prompt": [u("Please reply to jane.doe@example.com with a greeting.")],
            "chosen": [a("Hello Jane!")],
            "rejected": [a("No.")],
        },
        {
            "prompt": [u("What is the capital of Italy?")],
            "chosen": [a("Rome is the capital of Italy.")],
            "rejected": [a("Milan is the capital.")],
        },
        {
            "prompt": [u("Tell me about the capital of France.")],
            "chosen": [a(long)],
            "rejected": [a("Paris.")],
        },
    ]
    return [{"id": f"stage-{i}", "source": "demo", **r} for i, r in enumerate(rows)]


def main() -> None:
    rows = good_rows() + stage_rows()
    bad = malformed_rows()
    for k, row in enumerate(bad):  # spread the malformed rows through the file
        rows.insert(7 + 13 * k, row)
    lines = [json.dumps(r, ensure_ascii=False) for r in rows]
    (HERE / "pairs.jsonl").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
