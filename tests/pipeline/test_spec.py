"""Validation of pipeline specs: every mistake is one error naming the file, line and key."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sftdata.runner import SpecError, load_spec, make_plan
from tests.pipeline._helpers import STEPS, write_jsonl, write_spec

VALID = [f"{STEPS}:Upper", f"{STEPS}:MinLength", "parse.alpaca", "clean.fix_text"]


def _line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), start=1) if needle in line)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    write_jsonl(tmp_path / "rows.jsonl", [{"text": "hello"}])
    return tmp_path


@settings(max_examples=15)
@given(
    names=st.lists(st.sampled_from(VALID), min_size=0, max_size=5),
    bad=st.from_regex(r"[a-z]{3,8}\.[a-z]{3,8}", fullmatch=True),
    where=st.integers(min_value=0, max_value=5),
)
def test_unknown_step_error_names_its_line(tmp_path_factory, names, bad, where) -> None:
    """An unknown step name anywhere in the list is reported at its own YAML line."""
    folder = tmp_path_factory.mktemp("spec")
    write_jsonl(folder / "rows.jsonl", [{"text": "hi"}])
    names = list(names)
    names.insert(min(where, len(names)), bad)
    steps = "".join(f"  - {n}\n" for n in names)
    text = f"inputs: [rows.jsonl]\nsteps:\n{steps}output: {{path: out}}\n"
    spec = load_spec(write_spec(folder, text))
    with pytest.raises(SpecError) as e:
        make_plan(spec)
    index = names.index(bad)
    assert f"pipeline.yaml:{_line_of(text, '- ' + bad)}:" in str(e.value)
    assert f"steps[{index}]" in str(e.value) and bad in str(e.value)


def test_bad_option_names_option_and_line(folder: Path) -> None:
    """A misspelt option is reported with the step's line and the allowed options."""
    text = f"inputs: [rows.jsonl]\nsteps:\n  - {STEPS}:Upper\n  - {STEPS}:MinLength: {{chrs: 4}}\noutput: out\n"
    with pytest.raises(
        SpecError, match=r"pipeline.yaml:4: steps\[1\].*unknown option 'chrs'.*chars"
    ):
        make_plan(load_spec(write_spec(folder, text)))


def test_option_rejected_by_the_step_is_one_error(folder: Path) -> None:
    """A value the step's own validation refuses becomes a SpecError at that step's line."""
    text = f"inputs: [rows.jsonl]\nsteps:\n  - {STEPS}:MinLength: {{chars: -1}}\noutput: out\n"
    with pytest.raises(SpecError, match=r"pipeline.yaml:3: .*chars must be >= 0"):
        make_plan(load_spec(write_spec(folder, text)))


def test_missing_input_names_the_key(folder: Path) -> None:
    """A glob that matches nothing is reported at inputs[i].path."""
    text = "inputs:\n  - rows.jsonl\n  - {path: nothing/*.jsonl}\noutput: out\n"
    with pytest.raises(SpecError, match=r"pipeline.yaml:3: inputs\[1\]\.path: no input file"):
        load_spec(write_spec(folder, text))


def test_unwritable_output_is_refused_before_work(folder: Path) -> None:
    """An output under a regular file cannot be created: the error names output.path."""
    (folder / "afile").write_text("x")
    text = "inputs: [rows.jsonl]\noutput: {path: afile/out}\n"
    with pytest.raises(SpecError, match=r"output\.path: cannot create .*is a file"):
        load_spec(write_spec(folder, text))
    assert not (folder / ".out.work").exists()


@pytest.mark.parametrize(
    ("text", "pattern"),
    [
        ("inputs: [rows.jsonl]\noutput: out\nstepz: []\n", r":3: stepz: unknown key"),
        ("inputs: [rows.jsonl]\n", r"missing 'output'"),
        ("inputs: [rows.jsonl]\noutput: {path: out, format: xml}\n", r":2: output\.format"),
        ("inputs: [rows.jsonl]\noutput: out\noptions: {num_proc: 0}\n", r"options\.num_proc"),
        ("inputs: [rows.jsonl]\noutput: out\nsteps: [{a: 1, b: 2}]\n", r"steps\[0\]"),
        ("inputs: [rows.jsonl\noutput: out\n", r"not valid YAML"),
        ("inputs: []\noutput: out\n", r"inputs: must be a non-empty list"),
    ],
)
def test_malformed_specs_are_one_clear_error(folder: Path, text: str, pattern: str) -> None:
    """Each malformed spec raises SpecError naming the offending key."""
    with pytest.raises(SpecError, match=pattern):
        make_plan(load_spec(write_spec(folder, text)))


@pytest.mark.parametrize(
    ("block", "pattern"),
    [
        ("{path: tok, block_size: 8}", r"tokenize: give exactly one of 'tokenizer'"),
        ("{path: tok, block_size: 8, tokenizer: nowhere}", r"tokenize\.tokenizer: no tokenizer at"),
        ("{path: tok, block_size: 0, train: {vocab_size: 300}}", r"tokenize\.block_size"),
        (
            "{path: tok, block_size: 8, train: {vocab_size: 300, kind: bpe, extra: 1}}",
            r"tokenize\.train\.extra",
        ),
    ],
)
def test_tokenize_section_is_validated(folder: Path, block: str, pattern: str) -> None:
    """The pretraining section names its bad key before any work."""
    text = f"inputs: [rows.jsonl]\noutput: out\ntokenize: {block}\n"
    with pytest.raises(SpecError, match=r"pipeline.yaml:3: " + pattern):
        load_spec(write_spec(folder, text))
