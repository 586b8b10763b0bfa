"""Seeded perturbations of items, for robustness: typos, casing, whitespace, choice order.

Each perturbation is a pure function of ``(item, seed)``: the random generator is
seeded with the seed, the perturbation's name and the item's task and id, so an item
is changed the same way in every run and whatever else is evaluated with it.

>>> from sfttrain.evals._items import Item
>>> it = Item(task="t", id="1", kind="choice", question="Which planet is closest to the Sun?",
...           options=("Venus", "Mercury"), choices=("A", "B"), gold=1, style="mmlu")
>>> perturb(it, "casing", seed=0) == perturb(it, "casing", seed=0)
True
>>> moved = perturb(it, "choice_order", seed=3)
>>> moved.options[moved.gold]
'Mercury'
"""

from __future__ import annotations

import dataclasses
import random

from sfttrain.evals._items import Item

PERTURBATIONS = ("typos", "casing", "whitespace", "choice_order")


def _rng(item: Item, name: str, seed: int) -> random.Random:
    return random.Random(f"{seed}:{name}:{item.task}:{item.id}")


def typos(text: str, rng: random.Random, rate: float = 0.15) -> str:
    """Swap two neighbouring letters inside some words of 4+ letters."""
    words = text.split(" ")
    for i, w in enumerate(words):
        if len(w) >= 4 and w.isalpha() and rng.random() < rate:
            k = rng.randrange(1, len(w) - 2)
            words[i] = w[:k] + w[k + 1] + w[k] + w[k + 2 :]
    return " ".join(words)


def casing(text: str, rng: random.Random) -> str:
    """All upper, all lower, or each word's case flipped at random."""
    how = rng.randrange(3)
    if how == 0:
        return text.upper()
    if how == 1:
        return text.lower()
    return " ".join(w.swapcase() if rng.random() < 0.5 else w for w in text.split(" "))


def whitespace(text: str, rng: random.Random) -> str:
    """Double some spaces and add spaces at the ends of lines."""
    out = []
    for ch in text:
        out.append(ch)
        if ch == " " and rng.random() < 0.3:
            out.append(" ")
    return "".join(out).replace("\n", "  \n")


def perturb(item: Item, name: str, *, seed: int = 0) -> Item:
    """``item`` with perturbation ``name`` applied (the question text, or the choice order)."""
    if name not in PERTURBATIONS:
        raise ValueError(f"unknown perturbation {name!r}; known: {PERTURBATIONS}")
    rng = _rng(item, name, seed)
    if name == "choice_order":
        return _reorder(item, rng)
    change = {"typos": typos, "casing": casing, "whitespace": whitespace}[name]
    return dataclasses.replace(item, question=change(item.question, rng))


def _reorder(item: Item, rng: random.Random) -> Item:
    """Shuffle the listed options (MMLU style) or the scored choices; the gold follows."""
    if item.kind != "choice":
        return item
    listed = bool(item.options)
    values = list(item.options if listed else item.choices)
    order = list(range(len(values)))
    rng.shuffle(order)
    moved = tuple(values[i] for i in order)
    gold = order.index(item.gold)
    if listed:
        return dataclasses.replace(item, options=moved, gold=gold)
    return dataclasses.replace(item, choices=moved, gold=gold)
