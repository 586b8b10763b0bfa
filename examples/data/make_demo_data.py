"""Write the demo chat data in four formats (``python examples/data/make_demo_data.py``).

The rows are small, hand-written facts (sums, opposites, capitals, plurals, words),
laid out so every sftdata stage of ``sfttrain demo`` has something to do:

- malformed rows (a bad role, a missing field, a line that is not JSON) -> parse drops
- mojibake (``CafÃ©``) and stray whitespace -> clean fixes
- fake emails / phone numbers -> safety redacts; a fake API key -> safety rejects
- exact copies and near copies -> dedup drops

The output is deterministic; the committed files are its output.
"""

from __future__ import annotations

import json
from pathlib import Path

HERE = Path(__file__).parent

OPPOSITES = [
    ("hot", "cold"), ("big", "small"), ("up", "down"), ("fast", "slow"), ("light", "dark"),
    ("early", "late"), ("open", "closed"), ("full", "empty"), ("high", "low"), ("wet", "dry"),
    ("hard", "soft"), ("old", "new"), ("near", "far"), ("loud", "quiet"), ("strong", "weak"),
    ("thick", "thin"), ("rich", "poor"), ("happy", "sad"), ("clean", "dirty"), ("long", "short"),
]  # fmt: skip
CAPITALS = [
    ("France", "Paris"), ("Italy", "Rome"), ("Spain", "Madrid"), ("Germany", "Berlin"),
    ("Japan", "Tokyo"), ("Egypt", "Cairo"), ("Canada", "Ottawa"), ("Kenya", "Nairobi"),
    ("Peru", "Lima"), ("Norway", "Oslo"), ("Greece", "Athens"), ("Poland", "Warsaw"),
    ("Chile", "Santiago"), ("Ireland", "Dublin"), ("Portugal", "Lisbon"), ("Austria", "Vienna"),
    ("Sweden", "Stockholm"), ("Finland", "Helsinki"), ("Hungary", "Budapest"), ("Cuba", "Havana"),
]  # fmt: skip
PLURALS = [
    ("cat", "cats"), ("box", "boxes"), ("child", "children"), ("mouse", "mice"), ("leaf", "leaves"),
    ("city", "cities"), ("tooth", "teeth"), ("foot", "feet"), ("bus", "buses"), ("wolf", "wolves"),
    ("goose", "geese"), ("man", "men"), ("baby", "babies"), ("knife", "knives"), ("sheep", "sheep"),
]  # fmt: skip
WORDS = [
    ("a river", "A river is a large natural stream of water flowing to the sea or a lake."),
    ("a bridge", "A bridge is a structure that carries a road or path across an obstacle."),
    ("a library", "A library is a place where books are kept for people to read or borrow."),
    ("a volcano", "A volcano is a mountain with an opening through which lava can erupt."),
    ("an orchard", "An orchard is a piece of land planted with fruit trees."),
    ("a harbour", "A harbour is a sheltered place on a coast where ships can stay safely."),
    ("a glacier", "A glacier is a slow-moving mass of ice formed from packed snow."),
    ("a desert", "A desert is a dry area of land that gets very little rain."),
    ("a compass", "A compass is a tool with a needle that points to magnetic north."),
    ("a lighthouse", "A lighthouse is a tower with a bright light that guides ships at night."),
    ("a meadow", "A meadow is a field of grass and wild flowers."),
    ("an island", "An island is a piece of land with water all around it."),
]  # fmt: skip
SYSTEM = "You are a concise assistant. Answer in one short sentence."


def user_assistant(q: str, a: str, system: str | None = None) -> list[dict[str, str]]:
    head = [{"role": "system", "content": system}] if system else []
    return [*head, {"role": "user", "content": q}, {"role": "assistant", "content": a}]


def openai_rows() -> list[dict]:
    rows: list[dict] = []
    for i, (a, b) in enumerate([(x, y) for x in range(2, 11) for y in (2, 3, 5, 7, 9)]):
        system = SYSTEM if i % 4 == 0 else None
        rows.append(
            {
                "messages": user_assistant(
                    f"What is {a} plus {b}?", f"{a} plus {b} is {a + b}.", system
                )
            }
        )
    for word, opp in OPPOSITES[:10]:
        rows.append(
            {
                "messages": user_assistant(
                    f"What is the opposite of {word}?", f"The opposite of {word} is {opp}."
                )
            }
        )
    # exact copies and a near copy (one word changed in a long answer)
    rows += [rows[0], rows[5], rows[11]]
    rows.append({"messages": user_assistant("What is 2 plus 3?", "2 plus 3 is 5.", SYSTEM)})
    # fake contact details: redacted by the safety step
    rows.append(
        {
            "messages": user_assistant(
                "How do I reach the help desk?",
                "Write to help.desk@example.org or call +1 202-555-0143.",
            )
        }
    )
    rows.append(
        {
            "messages": user_assistant(
                "Who do I email about my order?",
                "Please email orders@example.com with your order number.",
            )
        }
    )
    # a fake secret: rejected by the safety step
    rows.append(
        {
            "messages": user_assistant(
                "Where is the key for the test server?",
                "Use AKIAIOSFODNN7EXAMPLE with the secret wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY.",
            )
        }
    )
    # malformed: bad role, assistant first, content not a string
    rows.append(
        {"messages": [{"role": "bot", "content": "hello"}, {"role": "assistant", "content": "hi"}]}
    )
    rows.append({"messages": [{"role": "assistant", "content": "I speak first."}]})
    rows.append(
        {"messages": [{"role": "user", "content": 42}, {"role": "assistant", "content": "ok"}]}
    )
    return rows


def alpaca_rows() -> list[dict]:
    rows: list[dict] = []
    for word, plural in PLURALS:
        rows.append(
            {
                "instruction": "Give the plural of the word.",
                "input": word,
                "output": f"The plural of {word} is {plural}.",
            }
        )
    for word, opp in OPPOSITES[10:]:
        rows.append(
            {
                "instruction": f"Name the opposite of '{word}'.",
                "input": "",
                "output": f"The opposite of {word} is {opp}.",
            }
        )
    rows.append(
        {
            "instruction": "Name the opposite of 'hot'.",
            "input": "",
            "output": "The opposite of hot is cold.",
        }
    )
    rows.append(dict(rows[3]))  # exact copy
    rows.append(
        {
            "instruction": "Write the word   café  properly.",
            "input": "",
            "output": "CafÃ© is written café.",
        }
    )
    rows.append({"instruction": "Give the plural of the word.", "input": "ox"})  # no output
    rows.append(
        {"instruction": "", "input": "", "output": "Nothing was asked."}
    )  # empty instruction
    return rows


def sharegpt_rows() -> list[dict]:
    rows: list[dict] = []
    for country, city in CAPITALS:
        rows.append({"conversations": [
            {"from": "human", "value": f"What is the capital of {country}?"},
            {"from": "gpt", "value": f"The capital of {country} is {city}."},
        ]})  # fmt: skip
    for (c1, k1), (c2, k2) in zip(CAPITALS[::2], CAPITALS[1::2], strict=True):
        rows.append({"conversations": [
            {"from": "system", "value": SYSTEM},
            {"from": "human", "value": f"Capital of {c1}?"},
            {"from": "gpt", "value": f"{k1}."},
            {"from": "human", "value": f"And of {c2}?"},
            {"from": "gpt", "value": f"{k2}."},
        ]})  # fmt: skip
    rows.append(dict(rows[2]))  # exact copy
    rows.append({"conversations": [
        {"from": "human", "value": "What is the capital of Japan ?"},
        {"from": "gpt", "value": "The capital of Japan is Tokyo."},
    ]})  # fmt: skip
    rows.append(
        {"conversations": [{"from": "alien", "value": "zzz"}, {"from": "gpt", "value": "?"}]}
    )
    rows.append({"conversations": "not a list"})
    return rows


def dolly_rows() -> list[dict]:
    rows: list[dict] = []
    for word, meaning in WORDS:
        rows.append(
            {
                "instruction": f"What is {word}?",
                "context": "",
                "response": meaning,
                "category": "open_qa",
            }
        )
    for word, meaning in WORDS[:6]:
        rows.append({
            "instruction": f"Using the note, say what {word} is.",
            "context": meaning,
            "response": meaning,
            "category": "closed_qa",
        })  # fmt: skip
    rows.append(
        {
            "instruction": "Call me about the flat.",
            "context": "",
            "response": "Sure, my number is (415) 555-0199 and my mail is jo.smith@example.net.",
            "category": "open_qa",
        }
    )
    rows.append(dict(rows[0]))  # exact copy
    rows.append(
        {
            "instruction": "What is a river?",
            "context": "",
            "response": "A river is a large natural stream of water flowing to the sea or to a lake.",
            "category": "open_qa",
        }
    )
    rows.append({"instruction": "What is a cloud?", "category": "open_qa"})  # no response
    return rows


def eval_files() -> dict[str, list[dict]]:
    heldout = [
        {"messages": user_assistant(f"What is {a} plus {b}?", f"{a} plus {b} is {a + b}.")}
        for a, b in [(9, 3), (9, 5), (2, 4)]
    ]
    heldout += [
        {
            "messages": user_assistant(
                "What is the opposite of rich?", "The opposite of rich is poor."
            )
        }
    ]
    mc = [
        {
            "question": "What is the capital of Italy?",
            "choices": ["The capital of Italy is Rome.", "The capital of Italy is Oslo."],
            "answer": 0,
        },
        {
            "question": "What is the opposite of hot?",
            "choices": ["The opposite of hot is big.", "The opposite of hot is cold."],
            "answer": "B",
        },
        {
            "question": "What is 3 plus 5?",
            "choices": ["3 plus 5 is 8.", "3 plus 5 is 2."],
            "answer": "3 plus 5 is 8.",
        },
        {
            "question": "Give the plural of the word. mouse",
            "choices": ["The plural of mouse is mice.", "The plural of mouse is mouses."],
            "answer": 0,
        },
    ]
    qa = [
        {"question": "What is the capital of France?", "answer": "The capital of France is Paris."},
        {"question": "What is 4 plus 5?", "answer": "4 plus 5 is 9."},
        {"question": "What is the opposite of up?", "answer": "The opposite of up is down."},
    ]
    return {"heldout.jsonl": heldout, "eval_choices.jsonl": mc, "eval_qa.jsonl": qa}


def write(name: str, rows: list[dict], extra_lines: tuple[str, ...] = ()) -> None:
    lines = [json.dumps(r, ensure_ascii=False) for r in rows] + list(extra_lines)
    (HERE / name).write_text("\n".join(lines) + "\n", encoding="utf-8")


def main() -> None:
    write("chat_openai.jsonl", openai_rows(), extra_lines=('{"messages": [ this line is not JSON',))
    write("chat_alpaca.jsonl", alpaca_rows())
    write("chat_sharegpt.jsonl", sharegpt_rows())
    write("chat_dolly.jsonl", dolly_rows())
    for name, rows in eval_files().items():
        write(name, rows)


if __name__ == "__main__":
    main()
