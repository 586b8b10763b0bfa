"""The YAML pipeline spec: load it, remember where every key sits, validate it.

A spec looks like this (paths are relative to the YAML file)::

    inputs:
      - {path: data/alpaca/*.jsonl, source: alpaca, parse: parse.alpaca}   # parse per input
      - {path: data/chats.parquet, source: chats, parse: {parse.sharegpt: {}}}
                                                        # jsonl | json | parquet | csv | text | hf dir
    steps:
      - parse.alpaca                                    # a bare name: no options
      - clean.quality: {min_words: 3}                   # name: {options}
      - dedup.minhash: {threshold: 0.8}                 # a global pass
    output:  {path: out/sft, format: parquet, shard_rows: 10000}
    rejects: {path: out/rejects}                        # same format as the output
    report:  {path: out/report}
    tokenize:                                           # pretraining only
      train: {vocab_size: 4000, kind: bpe}              # or  tokenizer: path/to/dir
      block_size: 256
      path: out/tokens
    options: {batch_size: 256, shard_rows: 2000, num_proc: 1, memory_budget: 2GB}

Every error names the file, the line and the key (``pipeline.yaml:7: steps[1] ...``).
"""

from __future__ import annotations

import dataclasses
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from sftdata._contract import SftDataError

OutputFormat = Literal["parquet", "jsonl", "hf"]
InputFormat = Literal["jsonl", "json", "parquet", "csv", "text", "hf"]
OUTPUT_FORMATS: tuple[str, ...] = ("parquet", "jsonl", "hf")
INPUT_FORMATS: tuple[str, ...] = ("jsonl", "json", "parquet", "csv", "text", "hf")
#: What the global passes may hold in memory before they spill to disk (2 GB).
DEFAULT_MEMORY_BUDGET = 2_000_000_000
_TOP_KEYS = ("inputs", "steps", "output", "rejects", "report", "tokenize", "options")
Key = tuple[str | int, ...]


class SpecError(SftDataError):
    """The pipeline spec is wrong; the message names the file, line and key."""


@dataclass(frozen=True)
class Located:
    """Where keys of a YAML document sit: ``key path -> line`` (1-based)."""

    file: str
    lines: dict[Key, int]

    def error(self, key: Key, message: str) -> SpecError:
        """A :class:`SpecError` pointing at ``key`` (or its closest located parent)."""
        k = key
        while k and k not in self.lines:
            k = k[:-1]
        line = self.lines.get(k, 1)
        return SpecError(f"{self.file}:{line}: {_key_str(key)}: {message}")


def _key_str(key: Key) -> str:
    out = ""
    for part in key:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out or "<top>"


def _to_python(node: yaml.Node, key: Key, lines: dict[Key, int]) -> Any:
    lines[key] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        out: dict[str, Any] = {}
        for k_node, v_node in node.value:
            k = yaml.safe_load(yaml.serialize(k_node))
            lines[(*key, str(k))] = k_node.start_mark.line + 1
            out[str(k)] = _to_python(v_node, (*key, str(k)), lines)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_to_python(v, (*key, i), lines) for i, v in enumerate(node.value)]
    return yaml.safe_load(yaml.serialize(node))


def load_yaml(path: str | Path) -> tuple[Any, Located]:
    """Parse a YAML file into Python values plus the line of every key."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise SpecError(f"{p}: cannot read the pipeline spec: {e}") from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as e:
        raise SpecError(f"{p}: not valid YAML: {e}") from None
    lines: dict[Key, int] = {}
    data = {} if node is None else _to_python(node, (), lines)
    return data, Located(str(p), lines)


@dataclass(frozen=True)
class StepSpec:
    name: str
    options: dict[str, Any]
    key: Key = ()


@dataclass(frozen=True)
class InputSpec:
    paths: tuple[Path, ...]
    format: str | None = None
    source: str | None = None
    split: str = "train"
    key: Key = ()
    parse: StepSpec | None = None


@dataclass(frozen=True)
class OutputSpec:
    path: Path
    format: str = "parquet"
    shard_rows: int = 10_000


@dataclass(frozen=True)
class TokenizeSpec:
    path: Path
    block_size: int
    tokenizer: Path | None = None
    train: dict[str, Any] | None = None
    respect_documents: bool = False
    text_column: str = "text"


@dataclass(frozen=True)
class PipelineSpec:
    """A validated pipeline spec. Build it with :func:`load_spec`."""

    file: Path
    inputs: tuple[InputSpec, ...]
    steps: tuple[StepSpec, ...]
    output: OutputSpec
    rejects: OutputSpec | None = None
    report: Path | None = None
    tokenize: TokenizeSpec | None = None
    batch_size: int = 256
    shard_rows: int = 2_000
    num_proc: int = 1
    work_dir: Path | None = None
    memory_budget: int = DEFAULT_MEMORY_BUDGET
    located: Located = field(default_factory=lambda: Located("<spec>", {}), compare=False)

    def replace(self, **changes: Any) -> PipelineSpec:
        return dataclasses.replace(self, **changes)


def _mapping(value: Any, key: Key, loc: Located, allowed: tuple[str, ...]) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise loc.error(key, f"must be a mapping, got {type(value).__name__}")
    for k in value:
        if k not in allowed:
            raise loc.error((*key, k), f"unknown key {k!r}; allowed: {', '.join(allowed)}")
    return value


def _pos_int(value: Any, key: Key, loc: Located) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise loc.error(key, f"must be a positive integer, got {value!r}")
    return value


def _str(value: Any, key: Key, loc: Located) -> str:
    if not isinstance(value, str) or not value:
        raise loc.error(key, f"must be a non-empty string, got {value!r}")
    return value


def _join(base: Path, path: str) -> Path:
    """``path`` relative to the spec's folder, with ``..`` folded away."""
    return Path(os.path.normpath(base / path))


def _inputs(value: Any, base: Path, loc: Located) -> tuple[InputSpec, ...]:
    from sftdata.runner._io import expand_input

    if not isinstance(value, list) or not value:
        raise loc.error(("inputs",), "must be a non-empty list of {path: ...} entries")
    out = []
    for i, item in enumerate(value):
        key: Key = ("inputs", i)
        if isinstance(item, str):
            item = {"path": item}
        m = _mapping(item, key, loc, ("path", "format", "source", "split", "parse"))
        if "path" not in m:
            raise loc.error(key, "missing 'path'")
        raw = m["path"] if isinstance(m["path"], list) else [m["path"]]
        fmt = m.get("format")
        if fmt is not None and fmt not in INPUT_FORMATS:
            raise loc.error((*key, "format"), f"unknown format {fmt!r}; one of {INPUT_FORMATS}")
        paths: list[Path] = []
        for p in raw:
            found = expand_input(base, _str(p, (*key, "path"), loc))
            if not found:
                raise loc.error((*key, "path"), f"no input file matches {p!r} (under {base})")
            paths += found
        source = m.get("source")
        if source is not None:
            source = _str(source, (*key, "source"), loc)
        split = _str(m.get("split", "train"), (*key, "split"), loc)
        parse = None
        if m.get("parse") is not None:
            (parse,) = _steps([m["parse"]], loc, (*key, "parse"))
        out.append(InputSpec(tuple(paths), fmt, source, split, key, parse))
    return tuple(out)


def _steps(value: Any, loc: Located, at: Key | None = None) -> tuple[StepSpec, ...]:
    """Step entries; ``at`` is the key of a single entry (an input's ``parse``)."""
    if value is None:
        return ()
    if not isinstance(value, list):
        raise loc.error(("steps",), "must be a list of step names or {name: {options}}")
    out = []
    for i, item in enumerate(value):
        key: Key = at if at is not None else ("steps", i)
        if isinstance(item, str):
            out.append(StepSpec(item, {}, key))
            continue
        if not isinstance(item, dict) or len(item) != 1:
            raise loc.error(key, "a step is a name or a one-key mapping {name: {options}}")
        ((name, opts),) = item.items()
        if opts is None:
            opts = {}
        if not isinstance(opts, dict):
            raise loc.error((*key, name), f"options must be a mapping, got {type(opts).__name__}")
        out.append(StepSpec(name, dict(opts), (*key, name)))
    return tuple(out)


def _output(value: Any, key: str, base: Path, loc: Located, default_fmt: str) -> OutputSpec:
    from sftdata.runner._io import check_writable

    if isinstance(value, str):
        value = {"path": value}
    m = _mapping(value, (key,), loc, ("path", "format", "shard_rows"))
    if "path" not in m:
        raise loc.error((key,), "missing 'path'")
    path = _join(base, _str(m["path"], (key, "path"), loc))
    fmt = m.get("format", default_fmt)
    if fmt not in OUTPUT_FORMATS:
        raise loc.error((key, "format"), f"unknown format {fmt!r}; one of {OUTPUT_FORMATS}")
    shard_rows = _pos_int(m.get("shard_rows", 10_000), (key, "shard_rows"), loc)
    problem = check_writable(path)
    if problem:
        raise loc.error((key, "path"), problem)
    return OutputSpec(path, fmt, shard_rows)


def _tokenize(value: Any, base: Path, loc: Located) -> TokenizeSpec:
    from sftdata.runner._io import check_writable

    allowed = ("path", "block_size", "tokenizer", "train", "respect_documents", "text_column")
    m = _mapping(value, ("tokenize",), loc, allowed)
    for req in ("path", "block_size"):
        if req not in m:
            raise loc.error(("tokenize",), f"missing {req!r}")
    if ("tokenizer" in m) == ("train" in m):
        raise loc.error(("tokenize",), "give exactly one of 'tokenizer' (a path) or 'train'")
    tok = (
        _join(base, _str(m["tokenizer"], ("tokenize", "tokenizer"), loc))
        if "tokenizer" in m
        else None
    )
    if tok is not None and not tok.exists():
        raise loc.error(("tokenize", "tokenizer"), f"no tokenizer at {tok}")
    train = None
    if "train" in m:
        train = _mapping(
            m["train"], ("tokenize", "train"), loc, ("vocab_size", "kind", "special_tokens")
        )
        _pos_int(train.get("vocab_size"), ("tokenize", "train", "vocab_size"), loc)
    path = _join(base, _str(m["path"], ("tokenize", "path"), loc))
    problem = check_writable(path)
    if problem:
        raise loc.error(("tokenize", "path"), problem)
    respect = m.get("respect_documents", False)
    if not isinstance(respect, bool):
        raise loc.error(("tokenize", "respect_documents"), f"must be true/false, got {respect!r}")
    return TokenizeSpec(
        path=path,
        block_size=_pos_int(m["block_size"], ("tokenize", "block_size"), loc),
        tokenizer=tok,
        train=train,
        respect_documents=respect,
        text_column=_str(m.get("text_column", "text"), ("tokenize", "text_column"), loc),
    )


def parse_spec(data: Any, loc: Located, base: Path) -> PipelineSpec:
    """Validate spec ``data`` (already parsed YAML); paths resolve against ``base``."""
    from sftdata.runner._io import check_writable

    top = _mapping(data, (), loc, _TOP_KEYS)
    if "output" not in top:
        raise loc.error((), "missing 'output'")
    if "inputs" not in top:
        raise loc.error((), "missing 'inputs'")
    output = _output(top["output"], "output", base, loc, "parquet")
    rejects = None
    if top.get("rejects") is not None:
        rejects = _output(top["rejects"], "rejects", base, loc, output.format)
    report = None
    if top.get("report") is not None:
        rep = top["report"] if isinstance(top["report"], dict) else {"path": top["report"]}
        rep = _mapping(rep, ("report",), loc, ("path",))
        report = _join(base, _str(rep.get("path"), ("report", "path"), loc))
        problem = check_writable(report)
        if problem:
            raise loc.error(("report", "path"), problem)
    opts = _mapping(top.get("options") or {}, ("options",), loc, _OPTION_KEYS)
    tokenize = _tokenize(top["tokenize"], base, loc) if top.get("tokenize") is not None else None
    return PipelineSpec(
        file=Path(loc.file),
        inputs=_inputs(top["inputs"], base, loc),
        steps=_steps(top.get("steps"), loc),
        output=output,
        rejects=rejects,
        report=report,
        tokenize=tokenize,
        batch_size=_pos_int(opts.get("batch_size", 256), ("options", "batch_size"), loc),
        shard_rows=_pos_int(opts.get("shard_rows", 2_000), ("options", "shard_rows"), loc),
        num_proc=_pos_int(opts.get("num_proc", 1), ("options", "num_proc"), loc),
        work_dir=_join(base, _str(opts["work_dir"], ("options", "work_dir"), loc))
        if "work_dir" in opts
        else None,
        memory_budget=parse_bytes(
            opts.get("memory_budget", DEFAULT_MEMORY_BUDGET), ("options", "memory_budget"), loc
        ),
        located=loc,
    )


_OPTION_KEYS = ("batch_size", "shard_rows", "num_proc", "work_dir", "memory_budget")
_UNITS = {"": 1, "B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12,
          "KIB": 1 << 10, "MIB": 1 << 20, "GIB": 1 << 30, "TIB": 1 << 40}  # fmt: skip


def parse_bytes(value: Any, key: Key = ("memory_budget",), loc: Located | None = None) -> int:
    """A size in bytes from an int or a string such as ``"2GB"``, ``"512 MiB"``, ``"1.5gb"``.

    >>> parse_bytes("2GB"), parse_bytes("512MiB"), parse_bytes(1 << 30)
    (2000000000, 536870912, 1073741824)
    """
    loc = loc or Located("<options>", {})
    if isinstance(value, bool):
        raise loc.error(key, f"must be a size such as 2GB or 512MB, got {value!r}")
    if isinstance(value, int):
        n = value
    elif isinstance(value, str):
        m = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]*)?)\s*([A-Za-z]*)\s*", value)
        unit = m.group(2).upper() if m else ""
        if m is None or unit not in _UNITS:
            raise loc.error(key, f"must be a size such as 2GB, 512MB or 1.5GiB, got {value!r}")
        n = int(float(m.group(1)) * _UNITS[unit])
    else:
        raise loc.error(key, f"must be a size such as 2GB or 512MB, got {value!r}")
    if n < 1 << 20:
        raise loc.error(key, f"must be at least 1MiB, got {value!r} ({n} bytes)")
    return n


def load_spec(path: str | Path) -> PipelineSpec:
    """Read and validate a pipeline YAML; step names and options are checked by the runner.

    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "rows.jsonl").write_text('{"text": "hello"}\\n')
    >>> _ = (d / "p.yaml").write_text("inputs: [rows.jsonl]\\noutput: {path: out, format: jsonl}\\n")
    >>> spec = load_spec(d / "p.yaml")
    >>> spec.output.format, [p.name for p in spec.inputs[0].paths]
    ('jsonl', ['rows.jsonl'])
    >>> _ = (d / "bad.yaml").write_text("inputs: [rows.jsonl]\\noutput: {path: out, fromat: jsonl}\\n")
    >>> try:
    ...     load_spec(d / "bad.yaml")
    ... except SpecError as e:
    ...     print(str(e).split("/")[-1])
    bad.yaml:2: output.fromat: unknown key 'fromat'; allowed: path, format, shard_rows
    """
    data, loc = load_yaml(path)
    return parse_spec(data, loc, Path(path).resolve().parent)
