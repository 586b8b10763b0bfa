"""Hostile input: None, non-strings, lone surrogates, NUL bytes, 10 MB strings; fingerprints."""

from __future__ import annotations

import subprocess
import sys
import threading
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sftdata import Pipeline, split_rejects
from sftdata.safety import Blocklist, ClassifierFilter, PIIFilter, redact_pii
from tests.safety.scorers import upper_share
from tests.strategies import json_like

# every code point, lone surrogates and NUL included
any_text = st.text(st.characters(codec=None, exclude_categories=()), max_size=80)

STEPS = (PIIFilter(), Blocklist(), ClassifierFilter(scorer=upper_share, threshold=0.9))


@given(st.lists(st.one_of(any_text, json_like), max_size=8))
@settings(max_examples=40)
def test_any_value_is_kept_or_rejected_never_raised(values):
    """Every step on any value: no exception, rows in == kept + rejected, text rows stay str."""
    out = Pipeline(STEPS)({"text": values})
    kept, rejected = split_rejects(out)
    assert len(kept["text"]) + len(rejected["text"]) == len(values)
    assert all(isinstance(t, str) for t in kept["text"])
    assert all(r == "safety.not_text" for r, v in zip(out["drop_reason"], values, strict=True)
               if not isinstance(v, str))  # fmt: skip


@given(any_text)
def test_surrogates_and_nul_bytes_survive_redaction_outside_spans(noise):
    """Odd code points around PII are kept as they are; the PII itself is replaced."""
    out, spans = redact_pii(f"{noise} ann@example.com \x00{noise}")
    assert out.startswith(noise) and out.endswith(f" <EMAIL> \x00{noise}")
    assert "ann@example.com" not in out and any(s.type == "email" for s in spans)


def run_with_deadline(fn: Any, seconds: float) -> Any:
    """Run ``fn`` in a thread; fail (instead of hanging the suite) if it does not finish."""
    result: dict[str, Any] = {}
    thread = threading.Thread(target=lambda: result.setdefault("out", fn()), daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"did not finish within {seconds} s"
    return result["out"]


@pytest.mark.slow
def test_ten_megabyte_strings_finish():
    """A 10 MB row (prose with PII, NUL bytes and a digit run) goes through every step."""
    para = "Quarterly notes were shared with the whole team on Monday. " * 12
    para += "Mail ann@example.com or call 212-555-0187 from 10.0.0.1.\x00 "
    big = (para * (10_000_000 // len(para) + 1))[:9_999_000] + "7" * 1000
    steps = Pipeline((PIIFilter(), Blocklist()))
    out = run_with_deadline(lambda: steps({"text": [big]}), 600)
    assert out["drop_reason"] == [None]
    assert "ann@example.com" not in out["text"][0] and out["text"][0].endswith("7" * 1000)


FINGERPRINT_STEPS = (
    "[PIIFilter(tags={'email': '[e]'}), Blocklist(by_language={'de': {'de.x': ['mist']}}),"
    " ClassifierFilter(scorer=upper_share)]"
)


@pytest.mark.slow
def test_fingerprints_are_stable_across_processes():
    """datasets' Hasher gives each step the same fingerprint here and in a fresh interpreter."""
    from datasets.fingerprint import Hasher

    code = (
        "from datasets.fingerprint import Hasher\n"
        "from sftdata.safety import Blocklist, ClassifierFilter, PIIFilter\n"
        "from tests.safety.scorers import upper_share\n"
        f"print(' '.join(Hasher.hash(s) for s in {FINGERPRINT_STEPS}))\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    here = eval(FINGERPRINT_STEPS)  # the same constructor calls, in this process
    assert run.stdout.split() == [Hasher.hash(s) for s in here]
