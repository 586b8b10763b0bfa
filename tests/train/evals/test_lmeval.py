"""Our multiple-choice scorer against lm-evaluation-harness on the same model and items.

BOS: lm-eval adds none unless ``add_bos_token=True``. Both settings are compared: our
``bos=False`` against lm-eval's default with the in-memory model (``HFLM(pretrained=
model, tokenizer=tok)``), our ``bos=True`` against ``add_bos_token=True`` with the
model folder (``pretrained=DIR``; lm-eval then loads the tokenizer with that flag).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sfttrain import evals

pytestmark = pytest.mark.slow
FIX = Path(__file__).parents[2] / "fixtures" / "evals"
FILES = {"mmlu": FIX / "mmlu.jsonl", "copa": FIX / "copa.jsonl", "boolq": FIX / "boolq.jsonl"}


@pytest.fixture(scope="module")
def task_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("lm_eval_tasks")
    names = evals.write_lm_eval_tasks(out, [f"{fmt}={p}" for fmt, p in FILES.items()])
    assert names == ["sft_mmlu", "sft_copa", "sft_boolq"]
    return out


def test_written_task_yamls_read_local_files(task_dir: Path) -> None:
    """Property: every YAML reads a local JSON file; MMLU keeps lm-eval's own prompt."""
    import yaml

    mmlu = yaml.safe_load((task_dir / "sft_mmlu.yaml").read_text())
    assert mmlu["dataset_path"] == "json"
    assert mmlu["dataset_kwargs"] == {"data_files": {"test": str(FILES["mmlu"].resolve())}}
    assert mmlu["doc_to_choice"] == ["A", "B", "C", "D"] and "Answer:" in mmlu["doc_to_text"]
    copa = yaml.safe_load((task_dir / "sft_copa.yaml").read_text())
    assert (
        Path(copa["dataset_kwargs"]["data_files"]["test"])
        == (task_dir / "sft_copa.jsonl").resolve()
    )


@pytest.mark.parametrize("bos", [False, True])
def test_acc_and_acc_norm_equal_lm_evals(
    tiny_model_dir: Path, tiny_tokenizer: Any, task_dir: Path, bos: bool
) -> None:
    """Property: on the same model and items, our acc / acc_norm equal lm-eval's exactly and
    every choice's log-likelihood matches lm-eval's to 1e-4."""
    import lm_eval
    from lm_eval.models.huggingface import HFLM
    from lm_eval.tasks import TaskManager
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(str(tiny_model_dir))
    if bos:
        lm: Any = "hf"
        extra: dict[str, Any] = {
            "model_args": f"pretrained={tiny_model_dir},dtype=float32,device=cpu,add_bos_token=True"
        }
    else:
        lm, extra = HFLM(pretrained=model, tokenizer=tiny_tokenizer, batch_size=4), {}
    out = lm_eval.simple_evaluate(
        model=lm, tasks=["sft_mmlu", "sft_copa", "sft_boolq"], batch_size=4, log_samples=True,
        task_manager=TaskManager(include_path=str(task_dir), include_defaults=False), **extra,
    )  # fmt: skip
    assert out is not None
    for fmt, path in FILES.items():
        items = evals.load_task(path, fmt)
        lls = evals.loglikelihoods(
            model, evals.requests(items, tiny_tokenizer, bos=bos), batch_size=4
        )
        ours = evals.choice_scores(items, lls)
        theirs = out["results"][f"sft_{fmt}"]
        assert sum(ours["acc"]) / len(items) == theirs["acc,none"]
        assert sum(ours["acc_norm"]) / len(items) == theirs["acc_norm,none"]
        for sample in out["samples"][f"sft_{fmt}"]:
            their_lls = [float(r[0][0]) for r in sample["resps"]]
            assert lls[sample["doc_id"]] == pytest.approx(their_lls, abs=1e-4)


def test_cli_runs_lm_eval_on_a_model_folder(
    tiny_model_dir: Path, task_dir: Path, capsys: Any
) -> None:
    """Property: `sfttrain eval DIR --lm-eval TASK --include-path DIR` prints lm-eval's results."""
    import json

    from sfttrain.cli import main

    argv = ["eval", str(tiny_model_dir), "--lm-eval", "sft_copa", "--include-path", str(task_dir)]
    assert main([*argv, "--bos", "--batch-size", "2"]) == 0
    out = capsys.readouterr().out
    results = json.loads(out[out.index("{") :])
    assert results["sft_copa"]["acc,none"] in (0.0, 0.5, 1.0)
