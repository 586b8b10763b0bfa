"""Evaluation: benchmark formats as data, our scorers, lm-eval for real, the evaluation matrix.

>>> from sfttrain import evals
>>> items = evals.needle_items(1, context_words=30, depths=(0.5,), seed=1)
>>> items[0].kind, items[0].extract
('generate', 'number')

- formats: :func:`load_task` (``mmlu``, ``mc``, ``boolq``, ``cb``, ``rte``, ``copa``,
  ``bigbench``, ``gsm8k``, ``qa``, ``humaneval``, ``tools``, ``alignment``,
  ``fairness``), :func:`needle_items`; all give :class:`Item`;
- scoring: :func:`requests` + :func:`loglikelihoods` + :func:`choice_scores` (multiple
  choice, one forward pass per item), :func:`generate_texts`, :mod:`metrics <sfttrain.evals._metrics>`
  (:func:`exact_match`, :func:`pass_at_k`, :func:`expected_calibration_error`,
  :func:`bootstrap_ci`, :func:`paired_bootstrap`), :func:`run_code` (the code sandbox);
- lm-eval: :func:`write_lm_eval_tasks`, :func:`run_lm_eval`;
- the matrix: :class:`Suite`, :func:`run_suite`, :func:`write_matrix`, :func:`compare`.
"""

from sfttrain.evals._choice import Request, choice_scores, encode_pair, loglikelihoods, requests
from sfttrain.evals._formats import FORMATS, detect_format, load_task, needle_items
from sfttrain.evals._gen import Timing, generate_texts
from sfttrain.evals._items import Item, TaskFileError, context, render
from sfttrain.evals._lmeval import run_lm_eval, task_name, write_lm_eval_tasks
from sfttrain.evals._matrix import compare, format_compare, run_suite, write_matrix
from sfttrain.evals._metrics import (
    bootstrap_ci,
    call_matches,
    exact_match,
    expected_calibration_error,
    extract_number,
    is_refusal,
    normalise,
    paired_bootstrap,
    pass_at_k,
)
from sfttrain.evals._perturb import PERTURBATIONS, perturb
from sfttrain.evals._run import evaluate_model, safety_hits
from sfttrain.evals._sandbox import SandboxResult, check_program, run_code
from sfttrain.evals._suite import Suite, SuiteError, TaskSpec

__all__ = [
    "FORMATS", "PERTURBATIONS", "Item", "Request", "SandboxResult", "Suite", "SuiteError",
    "TaskFileError", "TaskSpec", "Timing", "bootstrap_ci", "call_matches", "check_program",
    "choice_scores", "compare", "context", "detect_format", "encode_pair", "evaluate_model",
    "exact_match", "expected_calibration_error", "extract_number", "format_compare",
    "generate_texts", "is_refusal", "load_task", "loglikelihoods", "needle_items", "normalise",
    "paired_bootstrap", "pass_at_k", "perturb", "render", "requests", "run_code", "run_lm_eval",
    "run_suite", "safety_hits", "task_name", "write_lm_eval_tasks", "write_matrix",
]  # fmt: skip
