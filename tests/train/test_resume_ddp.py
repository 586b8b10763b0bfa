"""Resume after a crash, and a 2-process DDP run (gloo on CPU) launched by torchrun."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from sfttrain import Prepared

from .conftest import OVERFIT_CHATS, base_config, encoded_rows

pytestmark = pytest.mark.slow


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _adapter(final_dir: Path) -> dict[str, Any]:
    from safetensors.torch import load_file

    return load_file(str(final_dir / "adapter_model.safetensors"))


def test_resume_after_kill_ends_where_uninterrupted_run_ends(
    tiny_model_dir: Path, tiny_tokenizer: Any, tmp_path: Path
) -> None:
    """Property: SIGKILL after step 5 of 6, `resume: auto` from checkpoint 4 -> same adapter."""
    import torch

    from sfttrain import train

    data = encoded_rows(tiny_tokenizer)
    opts = {"max_steps": 6, "save_steps": 2, "logging_steps": 1}
    straight = train(
        base_config(tiny_model_dir, tmp_path / "a", **opts), prepared=Prepared(data, None)
    )
    cfg = base_config(tiny_model_dir, tmp_path / "b", **opts)
    config = tmp_path / "b.yaml"
    config.write_text(yaml.safe_dump(cfg.to_dict()))
    worker = Path(__file__).with_name("kill_worker.py")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])}
    proc = subprocess.run(
        [sys.executable, str(worker), str(config), "5"], env=env, capture_output=True, timeout=300
    )
    assert proc.returncode == -9, proc.stderr[-3000:]
    assert not (tmp_path / "b" / "final").exists()
    resumed = train(cfg, prepared=Prepared(data, None))
    assert resumed.resumed_from == str(tmp_path / "b" / "checkpoint-4")
    assert resumed.steps == 6
    a, b = _adapter(straight.final_dir), _adapter(resumed.final_dir)
    assert a.keys() == b.keys()
    for k in a:  # CPU, same seed: equal up to float32 rounding
        torch.testing.assert_close(a[k], b[k], atol=1e-6, rtol=0)
    assert resumed.losses[-1] == pytest.approx(straight.losses[-1], abs=1e-5)


def test_two_process_ddp_ranks_agree_and_loss_falls(tiny_model_dir: Path, tmp_path: Path) -> None:
    """Property: under torchrun (2 ranks, gloo) both ranks end with equal weights; loss falls."""
    data = tmp_path / "chats.jsonl"
    data.write_text("\n".join(json.dumps({"messages": m}) for m in OVERFIT_CHATS * 4) + "\n")
    cfg = base_config(tiny_model_dir, tmp_path / "run", train_files=[str(data)], max_steps=6)
    config = tmp_path / "ddp.yaml"
    config.write_text(yaml.safe_dump(cfg.to_dict()))
    worker = Path(__file__).with_name("ddp_worker.py")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(Path(__file__).parents[2])}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
           "--master_port", str(_free_port()), str(worker), str(config), str(tmp_path)]  # fmt: skip
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=400)
    assert proc.returncode == 0, proc.stderr[-3000:]
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert [r["world"] for r in ranks] == [2, 2]
    assert ranks[0]["checksum"] == pytest.approx(ranks[1]["checksum"], rel=1e-9)
    losses = ranks[0]["losses"]
    assert len(losses) >= 3 and losses[-1] < losses[0] - 0.3, losses
