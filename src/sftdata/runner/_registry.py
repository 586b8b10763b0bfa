"""Find sftdata steps by name and build them from YAML options.

Names resolve like this (first hit wins)::

    parse.alpaca        -> sftdata.parse.Alpaca            (CamelCase batched step: a map)
    clean.quality       -> sftdata.clean.QualityFilter     (... or CamelCase + "Filter")
    safety.pii          -> sftdata.safety.PIIFilter        (... or UPPERCASE + "Filter")
    dedup.minhash       -> sftdata.dedup.minhash_dedup     (a function of ``ds``: a global pass)
    preference.pair     -> sftdata.preference.PairFilter   (preference pairs: also
                           encode_preference -> sftdata.EncodePreference)
    pack                -> sftdata.pack                    (top-level lazy name)
    my_pkg.steps:Upper  -> my_pkg.steps.Upper              (any importable step)

A *map* step is a class: it is built once with the options and called on batches.
A *global* pass is a function whose first parameter is ``ds``: it gets the kept rows
as a ``datasets.Dataset`` plus the options and returns ``(kept, rejected)``.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from sftdata._contract import SftDataError

StepKind = Literal["map", "global"]
AREAS = ("parse", "clean", "safety", "dedup", "preference")

#: Short names whose object does not follow the CamelCase rule.
ALIASES: dict[str, str] = {
    "dedup.exact": "sftdata.dedup:exact_dedup",
    "dedup.minhash": "sftdata.dedup:minhash_dedup",
    "encode": "sftdata:Encode",
    "encode_text": "sftdata:EncodeText",
    "pack": "sftdata:pack",
    "encode_preference": "sftdata:EncodePreference",
}


@dataclass(frozen=True)
class StepInfo:
    """What a step name resolved to."""

    name: str
    kind: StepKind
    target: Any
    qualname: str


def _camel(snake: str) -> str:
    return "".join(p[:1].upper() + p[1:] for p in snake.split("_"))


def _import(module: str) -> Any | None:
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as e:
        if e.name and (module == e.name or module.startswith(e.name + ".")):
            return None
        raise


def _defines_call(cls: type) -> bool:
    return any("__call__" in vars(c) for c in cls.__mro__[:-1])


def _kind(target: Any) -> StepKind | None:
    if inspect.isclass(target):
        return "map" if _defines_call(target) else None
    if callable(target):
        params = list(inspect.signature(target).parameters)
        return "global" if params and params[0] in ("ds", "dataset", "data") else None
    return None


def _candidates(name: str) -> list[tuple[str, str]]:
    if ":" in name:
        module, _, attr = name.partition(":")
        return [(module, attr)]
    if name in ALIASES:
        module, _, attr = ALIASES[name].partition(":")
        return [(module, attr)]
    area, _, short = name.rpartition(".")
    module = f"sftdata.{area}" if area else "sftdata"
    camel = _camel(short)
    return [
        (module, a)
        for a in (
            camel,
            camel + "Filter",
            short.upper(),
            short.upper() + "Filter",
            f"{short}_{area}",
            short,
        )
    ]


def _by_lower_name(module_name: str, short: str) -> list[tuple[str, str]]:
    """Classes of the module whose lower-cased name is ``short`` (+ ``filter``), any case."""
    module = _import(module_name)
    want = {short.replace("_", ""), short.replace("_", "") + "filter"}
    names = getattr(module, "__all__", dir(module)) if module is not None else []
    return [(module_name, a) for a in names if a.lower() in want and a[:1].isupper()]


def resolve_step(name: str) -> StepInfo:
    """Resolve a step name to a map step class or a global pass function.

    >>> resolve_step("encode").qualname
    'sftdata:Encode'
    >>> try:
    ...     resolve_step("nope.missing")
    ... except UnknownStep as e:
    ...     print(str(e)[:40])
    unknown step 'nope.missing'; known steps
    """
    candidates = _candidates(name)
    if ":" not in name and name not in ALIASES:
        short = name.rpartition(".")[2]
        candidates = _by_lower_name(candidates[0][0], short) + candidates
    for module_name, attr in candidates:
        module = _import(module_name)
        if module is None:
            continue
        try:
            target = getattr(module, attr)
        except (AttributeError, ModuleNotFoundError):
            continue
        kind = _kind(target)
        if kind is not None:
            return StepInfo(name, kind, target, f"{module_name}:{attr}")
    known = ", ".join(available_steps()) or "none installed"
    raise UnknownStep(f"unknown step {name!r}; known steps: {known}")


class UnknownStep(SftDataError):
    """No step has this name."""


def available_steps() -> list[str]:
    """Every step name the registry can resolve right now (areas that are not installed are skipped)."""
    names: set[str] = set()
    for alias in ALIASES:
        try:
            _resolve_quiet(alias)
            names.add(alias)
        except (UnknownStep, ImportError):
            pass
    for area in AREAS:
        module = _import(f"sftdata.{area}")
        if module is None:
            continue
        for attr in getattr(module, "__all__", dir(module)):
            obj = getattr(module, attr, None)
            if inspect.isclass(obj) and dataclasses.is_dataclass(obj) and _defines_call(obj):
                short = attr.lower() if hasattr(module, attr.lower()) else _snake(attr)
                names.add(f"{area}.{short}")
    return sorted(names)


def _resolve_quiet(name: str) -> StepInfo:
    for module_name, attr in _candidates(name):
        module = _import(module_name)
        try:
            target = getattr(module, attr, None) if module is not None else None
        except ModuleNotFoundError:
            target = None
        kind = _kind(target) if target is not None else None
        if kind is not None:
            return StepInfo(name, kind, target, f"{module_name}:{attr}")
    raise UnknownStep(name)


def _snake(camel: str) -> str:
    if camel.endswith("Filter") and camel != "Filter":
        camel = camel[: -len("Filter")]
    out = ""
    for i, ch in enumerate(camel):
        prev_lower = i > 0 and (camel[i - 1].islower() or camel[i - 1].isdigit())
        out += ("_" if ch.isupper() and prev_lower else "") + ch.lower()
    return out


def _load_option(name: str, value: Any, base: Path) -> Any:
    """Turn YAML strings into the objects some options need (tokenizer, template)."""
    if name == "tokenizer" and isinstance(value, str):
        from transformers import AutoTokenizer

        path = base / value
        return AutoTokenizer.from_pretrained(str(path) if path.exists() else value)
    if name == "template" and isinstance(value, str):
        templates = importlib.import_module("sftdata.templates")
        return templates.get(value)
    return value


def build_step(info: StepInfo, options: dict[str, Any], *, base: Path) -> Callable[..., Any]:
    """Build the step with ``options``; an unknown or bad option raises ``SftDataError``."""
    if info.kind == "map":
        allowed = (
            [f.name for f in dataclasses.fields(info.target) if f.init]
            if dataclasses.is_dataclass(info.target)
            else [p for p in inspect.signature(info.target).parameters if p != "self"]
        )
        _check_names(info, options, allowed)
        loaded = {k: _load_option(k, v, base) for k, v in options.items()}
        try:
            step = info.target(**loaded)
        except (ValueError, TypeError) as e:
            raise SftDataError(f"bad options for {info.name!r}: {e}") from None
        if not callable(step):
            raise SftDataError(f"{info.qualname} built a non-callable object")
        return step  # type: ignore[no-any-return]
    params = list(inspect.signature(info.target).parameters)[1:]
    _check_names(info, options, params)
    loaded = {k: _load_option(k, v, base) for k, v in options.items()}
    try:
        inspect.signature(info.target).bind(None, **loaded)
    except TypeError as e:
        raise SftDataError(f"bad options for {info.name!r}: {e}") from None
    return functools.partial(info.target, **loaded)


def _check_names(info: StepInfo, options: dict[str, Any], allowed: list[str]) -> None:
    for k in options:
        if k not in allowed:
            raise SftDataError(
                f"unknown option {k!r} for {info.name!r}; allowed: {', '.join(allowed) or 'none'}"
            )
