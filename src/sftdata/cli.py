"""The ``sftdata`` command line.

::

    sftdata run pipeline.yaml [--dry-run] [--num-proc N] [--engine local|ray] [--address ADDR]
    sftdata show PATH [--row I] [--tokenizer DIR]      # the mask viewer on a row of an output
    sftdata stats PATH [--out DIR] [--tokenizer DIR]   # a report on any dataset
    sftdata templates [NAME]                           # list templates, or preview one
    sftdata doctor --tokenizer DIR [--template NAME]   # tokenizer traps; exit 1 on a fail
    sftdata demo ...                                   # the end-to-end demo (provided by sfttrain)

Errors in the spec or the inputs print one ``error:`` line and exit with 2; a failed
step exits with 1. ``--traceback`` shows the Python traceback for debugging.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from sftdata._contract import SftDataError

#: Where ``sftdata demo`` is implemented: ``module:function(argv) -> int``.
DEMO_ENTRY = "sfttrain.cli:main"  # `sftdata demo ARGS` == `sfttrain demo ARGS`
_PREVIEW = [
    {"role": "system", "content": "You are helpful."},
    {"role": "user", "content": "Hi!"},
    {"role": "assistant", "content": "Hello, how can I help?"},
]


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="sftdata", description="Prepare LLM fine-tuning data.")
    p.add_argument("--traceback", action="store_true", help="show tracebacks on errors")
    sub = p.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run", help="run a YAML pipeline")
    r.add_argument("spec", type=Path)
    r.add_argument("--dry-run", action="store_true", help="validate and print the plan only")
    r.add_argument("--num-proc", type=int, default=None, help="worker processes (local engine)")
    r.add_argument("--engine", choices=("local", "ray"), default="local")
    r.add_argument("--address", default=None, help="Ray cluster address (default: local Ray)")
    r.add_argument("--no-progress", action="store_true", help="no progress bars")
    s = sub.add_parser("show", help="show one row of a dataset with its label mask")
    s.add_argument("path", type=Path)
    s.add_argument("--row", type=int, default=0)
    s.add_argument("--tokenizer", default=None, help="tokenizer to show input_ids/labels with")
    s.add_argument("--html", type=Path, default=None, help="write an HTML view here instead")
    st = sub.add_parser("stats", help="statistics report on a dataset")
    st.add_argument("path", type=Path)
    st.add_argument("--out", type=Path, default=None, help="folder for report.md/json and plots")
    st.add_argument("--tokenizer", default=None)
    t = sub.add_parser("templates", help="list chat templates, or preview one")
    t.add_argument("name", nargs="?")
    dr = sub.add_parser("doctor", help="check a tokenizer (and its fit with a template)")
    dr.add_argument("--tokenizer", required=True, help="tokenizer folder (AutoTokenizer)")
    dr.add_argument("--template", default=None, help="sftdata template name to compare with")
    dr.add_argument("--sentencepiece", default=None, help="tokenizer.model to compare with")
    d = sub.add_parser("demo", help="end-to-end demo (from sfttrain)")
    d.add_argument("args", nargs=argparse.REMAINDER)
    return p


def load_dataset_any(path: Path) -> Any:
    """A ``datasets.Dataset`` from a run output folder, a saved dataset or one data file."""
    import datasets

    from sftdata.engines._local import concat
    from sftdata.runner._io import read_input

    if not path.exists():
        raise SftDataError(f"{path}: no such file or folder")
    shards = _output_shards(path)
    if shards is not None:
        return datasets.Dataset(concat(list(shards)))
    table, _ = read_input(path, None)
    return datasets.Dataset(table)


def _cmd_run(a: argparse.Namespace) -> int:
    from sftdata.runner import describe, load_spec, make_plan, run

    spec = load_spec(a.spec)
    if a.dry_run:
        print(describe(make_plan(spec)))
        return 0
    if a.engine == "ray":
        from sftdata.engines import init_ray

        init_ray(address=a.address)
        if a.no_progress:
            import ray.data

            ray.data.DataContext.get_current().enable_progress_bars = False
    result = run(spec, engine=a.engine, num_proc=a.num_proc, progress=not a.no_progress)
    if result.reused:
        print(f"reused finished work: {', '.join(result.reused)}")
    print(result.table())
    if result.timings:
        print(result.speed_table())
    print(f"output: {spec.output.path} ({result.counters.kept} rows)")
    if spec.rejects:
        print(f"rejects: {spec.rejects.path} ({result.counters.rejected} rows)")
    return 0


def _tokenizer(name: str | None) -> Any:
    if name is None:
        return None
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(name)


def _cmd_show(a: argparse.Namespace) -> int:
    ds = load_dataset_any(a.path)
    if not 0 <= a.row < len(ds):
        raise SftDataError(f"--row {a.row} is out of range: the dataset has {len(ds)} rows")
    row = ds[a.row]
    if a.tokenizer is None or "input_ids" not in row:
        if a.tokenizer is not None:
            print("note: the row has no input_ids; showing it as JSON", file=sys.stderr)
        print(json.dumps(row, ensure_ascii=False, indent=2, default=str))
        return 0
    view = importlib.import_module("sftdata.encode.view")
    tok = _tokenizer(a.tokenizer)
    if a.html is not None:
        print(view.save_html(row, tok, a.html))
    else:
        print(view.terminal(row, tok, color=sys.stdout.isatty()))
    return 0


def _output_shards(path: Path) -> Iterator[Any] | None:
    """A run output folder's shards one at a time (``None`` for anything else)."""
    from sftdata.runner._io import read_input, read_table

    if not (path / "manifest.json").exists():
        return None
    manifest = json.loads((path / "manifest.json").read_text())
    files = [path / f["name"] for f in manifest["files"]]
    if manifest.get("format") == "jsonl":
        return (read_input(f, "jsonl")[0] for f in files)
    return (read_table(f) for f in files)


def _cmd_stats(a: argparse.Namespace) -> int:
    stats = importlib.import_module("sftdata.stats")
    tokenizer = _tokenizer(a.tokenizer)
    shards = _output_shards(a.path)
    if shards is not None:  # shard by shard, merged: never the whole output in memory
        rep = stats.merge(stats.measure(t, tokenizer) for t in shards).report()
    else:
        rep = stats.report(load_dataset_any(a.path), tokenizer=tokenizer)
    if a.out is not None:
        a.out.mkdir(parents=True, exist_ok=True)
        (a.out / "report.md").write_text(rep.to_markdown())
        (a.out / "report.json").write_text(json.dumps(rep.to_dict(), indent=2, default=str))
        rep.save_plots(str(a.out))
    print(rep.to_markdown())
    return 0


def _cmd_templates(a: argparse.Namespace) -> int:
    templates = importlib.import_module("sftdata.templates")
    if a.name is None:
        for name in templates.names():
            print(name)
        return 0
    try:
        template = templates.get(a.name)
    except KeyError:
        raise SftDataError(
            f"unknown template {a.name!r}; known: {', '.join(templates.names())}"
        ) from None
    print(template.render(_PREVIEW))
    return 0


def _cmd_doctor(a: argparse.Namespace) -> int:
    templates = importlib.import_module("sftdata.templates")
    template = templates.get(a.template) if a.template is not None else None
    report = templates.check_tokenizer(
        _tokenizer(a.tokenizer), template, sentencepiece_model=a.sentencepiece
    )
    print(report.to_text())
    return 0 if report.ok else 1


def _cmd_demo(a: argparse.Namespace) -> int:
    module, _, fn = DEMO_ENTRY.partition(":")
    try:
        entry = getattr(importlib.import_module(module), fn)
    except (ImportError, AttributeError):
        raise SftDataError(
            f"the demo needs sfttrain: pip install 'sftdata[train]' ({DEMO_ENTRY} is missing)"
        ) from None
    rest = a.args[1:] if a.args[:1] == ["--"] else a.args
    return int(entry(["demo", *rest]) or 0)


_COMMANDS = {
    "run": _cmd_run,
    "show": _cmd_show,
    "stats": _cmd_stats,
    "templates": _cmd_templates,
    "doctor": _cmd_doctor,
    "demo": _cmd_demo,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``sftdata`` console script; returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["demo"]:  # hand every option over untouched (argparse REMAINDER drops --opts)
        argv = ["demo", "--", *argv[1:]]
    args = _parser().parse_args(argv)
    try:
        return _COMMANDS[args.command](args)
    except SftDataError as e:
        if args.traceback:
            raise
        print(f"error: {e}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # output piped into `head` and closed: not an error
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        print("interrupted; rerun the same command to resume", file=sys.stderr)
        return 130
    except Exception as e:  # a bug or a failing step: one line, details on request
        if args.traceback:
            raise
        print(
            f"error: {type(e).__name__}: {e} (rerun with --traceback for details)", file=sys.stderr
        )
        return 1


if __name__ == "__main__":
    sys.exit(main())
