"""stage: pretrain on sftdata token shards: checks, order, loss, resume, rank split."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from sfttrain import TrainConfig
from sfttrain._pretrain import epoch_order, open_shards
from sfttrain.config import ConfigError

from .test_resume_ddp import _free_port

WORDS = "the cat sat on a mat while one dog ran far across green fields at noon".split()  # noqa: SIM905
MODEL = {
    "model_type": "llama",
    "hidden_size": 32,
    "intermediate_size": 64,
    "num_hidden_layers": 1,
    "num_attention_heads": 2,
    "num_key_value_heads": 1,
    "max_position_embeddings": 64,
}


@pytest.fixture(scope="module")
def shards(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """64 blocks of 16 tokens in 8 shards, cut by sftdata from a repetitive synthetic corpus."""
    from sftdata.tokenize import save_tokenizer, tokenize_corpus, train_tokenizer

    rng = np.random.default_rng(0)
    docs = [" ".join(WORDS[int(s) :] + WORDS[: int(s)]) for s in rng.integers(0, 16, 200)]
    out = tmp_path_factory.mktemp("tokens")
    tok = train_tokenizer(docs, 300)
    save_tokenizer(tok, out / "tokenizer", eos_token="<|endoftext|>")
    m = tokenize_corpus(docs, tok, block_size=16, out_dir=out, blocks_per_shard=8)
    # keep exactly 64 blocks (8 shards) so batches of 4 split evenly over 1 or 2 ranks
    manifest = json.loads((out / "manifest.json").read_text())
    manifest["shards"] = manifest["shards"][:8]
    (out / "manifest.json").write_text(json.dumps(manifest))
    assert m.num_blocks >= 64
    return out


def config(shards: Path, out: Path, **over: Any) -> TrainConfig:
    data: dict[str, Any] = {
        "stage": "pretrain",
        "model": str(out / "init"),
        "model_config": MODEL,
        "tokenizer": str(shards / "tokenizer"),
        "train_files": [str(shards)],
        "output_dir": str(out),
        "method": "full",
        "learning_rate": 1e-2,
        "lr_scheduler": "constant",
        "batch_size": 4,
        "max_steps": 8,
        "logging_steps": 1,
        "trackers": ["jsonl"],
        "progress_bar": False,
    }
    data.update(over)
    return TrainConfig.from_dict(data)


@settings(max_examples=30)
@given(
    rows=st.lists(st.integers(0, 9), min_size=1, max_size=12),
    seed=st.integers(0, 99),
    epoch=st.integers(0, 3),
)
def test_epoch_order_is_a_reproducible_permutation(rows: list[int], seed: int, epoch: int) -> None:
    """Property: an epoch's order is a permutation of all blocks, the same for the same seed."""
    order = epoch_order(tuple(rows), seed=seed, epoch=epoch)
    assert sorted(order.tolist()) == list(range(sum(rows)))
    np.testing.assert_array_equal(order, epoch_order(tuple(rows), seed=seed, epoch=epoch))


def test_manifest_checks_name_the_key(shards: Path, tmp_path: Path) -> None:
    """Another tokenizer, a missing manifest or a tampered shard is a ConfigError on train_files[i]."""
    from sfttrain import load_tokenizer

    tok = load_tokenizer(shards / "tokenizer")
    assert open_shards([str(shards)], tok).num_blocks == 64
    other = tmp_path / "other"
    other.mkdir()
    (other / "tokenizer.json").write_text((shards / "tokenizer" / "tokenizer.json").read_text())
    spec = json.loads((other / "tokenizer.json").read_text())
    spec["added_tokens"][0]["content"] = "<|other|>"
    (other / "tokenizer.json").write_text(json.dumps(spec))
    (other / "tokenizer_config.json").write_text('{"eos_token": "<|other|>"}')
    with pytest.raises(ConfigError, match=r"train_files\[0\]: the shards were cut with another"):
        open_shards([str(shards)], load_tokenizer(other))
    with pytest.raises(ConfigError, match=r"train_files\[1\]: .* no manifest.json"):
        open_shards([str(shards), str(tmp_path)], tok)
    bad = tmp_path / "bad"
    bad.mkdir()
    manifest = json.loads((shards / "manifest.json").read_text())
    manifest["shards"][0]["rows"] += 1
    (bad / "manifest.json").write_text(json.dumps(manifest))
    for s in manifest["shards"]:
        (bad / s["name"]).write_bytes((shards / s["name"]).read_bytes())
    with pytest.raises(ConfigError, match=r"train_files\[0\]: .*does not match manifest.json"):
        open_shards([str(bad)], tok)


def test_config_rules(shards: Path, tmp_path: Path) -> None:
    """A new model trains in full, with stage pretrain and an explicit tokenizer."""
    with pytest.raises(ConfigError, match="method: a new model"):
        config(shards, tmp_path, method="lora")
    with pytest.raises(ConfigError, match="model_config: a new model is trained with stage"):
        config(shards, tmp_path, stage="sft")
    with pytest.raises(ConfigError, match="tokenizer: a new model"):
        config(shards, tmp_path, tokenizer=None)
    with pytest.raises(ConfigError, match=r"model_config\.model_type"):
        config(shards, tmp_path, model_config={"hidden_size": 32})


@pytest.mark.slow
def test_loss_falls_from_a_new_model(shards: Path, tmp_path: Path) -> None:
    """A tiny model built from model_config learns the repetitive corpus: loss drops by >1 nat;
    the run is tracked like an SFT run (MLflow loss history, progress.json for status)."""
    from mlflow.tracking import MlflowClient

    from sfttrain import train

    uri = f"sqlite:///{tmp_path / 'ml.db'}"
    cfg = config(
        shards, tmp_path / "run", max_steps=12, trackers=["jsonl", "mlflow"],
        tracking={"mlflow_uri": uri, "experiment": "pretrain"},
    )  # fmt: skip
    result = train(cfg)
    assert result.steps == 12 and result.counts["blocks"] == 64
    assert result.losses[-1] < result.losses[0] - 1.0, result.losses
    assert (tmp_path / "run" / "init" / "config.json").exists()
    run_id = json.loads((tmp_path / "run" / "mlflow_run.json").read_text())["run_id"]
    history = MlflowClient(uri).get_metric_history(run_id, "loss")
    assert [m.value for m in history] == pytest.approx(list(result.losses), rel=1e-6)
    assert json.loads((tmp_path / "run" / "progress.json").read_text())["step"] == 12


def _pythonpath() -> str:
    """The repository root (for ``tests``) ahead of any PYTHONPATH already set."""
    return os.pathsep.join(
        filter(None, [str(Path(__file__).parents[2]), os.environ.get("PYTHONPATH")])
    )


def _weights(folder: Path) -> dict[str, Any]:
    from safetensors.torch import load_file

    return load_file(str(folder / "model.safetensors"))


@pytest.mark.slow
def test_kill_mid_epoch_and_resume_equals_uninterrupted(shards: Path, tmp_path: Path) -> None:
    """Property: SIGKILL after step 5 (of 16 per epoch), resume from checkpoint 3 -> same weights."""
    import torch

    from sfttrain import train

    opts = {"max_steps": 7, "save_steps": 3}
    straight = train(config(shards, tmp_path / "a", **opts))
    cfg = config(shards, tmp_path / "b", **opts)
    path = tmp_path / "b.yaml"
    path.write_text(yaml.safe_dump(cfg.to_dict()))
    worker = Path(__file__).with_name("pretrain_worker.py")
    env = {**os.environ, "PYTHONPATH": _pythonpath()}
    proc = subprocess.run(
        [sys.executable, str(worker), str(path), "kill", "5"],
        env=env,
        capture_output=True,
        timeout=300,
    )
    assert proc.returncode == -9, proc.stderr[-3000:]
    resumed = train(cfg)
    assert resumed.resumed_from == str(tmp_path / "b" / "checkpoint-3") and resumed.steps == 7
    a, b = _weights(straight.final_dir), _weights(resumed.final_dir)
    for k in a:
        torch.testing.assert_close(a[k], b[k], atol=1e-6, rtol=0)


@pytest.mark.slow
def test_two_gloo_ranks_see_disjoint_blocks_covering_the_epoch(
    shards: Path, tmp_path: Path
) -> None:
    """Property: under torchrun (2 ranks) the blocks served are disjoint and cover all 64."""
    cfg = config(shards, tmp_path / "run", max_steps=-1, epochs=1)
    path = tmp_path / "ddp.yaml"
    path.write_text(yaml.safe_dump(cfg.to_dict()))
    worker = Path(__file__).with_name("pretrain_worker.py")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": _pythonpath()}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
           "--master_port", str(_free_port()), str(worker), str(path), "record", str(tmp_path)]  # fmt: skip
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=400)
    assert proc.returncode == 0, proc.stderr[-3000:]
    seen = [json.loads((tmp_path / f"blocks{r}.json").read_text()) for r in (0, 1)]
    assert len(seen[0]) == len(seen[1]) == 32
    assert not set(seen[0]) & set(seen[1])
    assert sorted(seen[0] + seen[1]) == list(range(64))
