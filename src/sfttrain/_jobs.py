"""Long jobs: ``--detach`` starts a train or sweep in the background; ``sfttrain status``.

``sfttrain train config.yaml --detach`` re-runs the same command in a new session
(immune to the terminal closing), with stdout and stderr in ``RUN_DIR/sfttrain.log``
and its process id in ``RUN_DIR/sfttrain.pid``, and returns at once. A training run
writes ``RUN_DIR/progress.json`` at every logging step (step, max steps, times), from
which ``sfttrain status RUN_DIR`` computes the ETA; a sweep folder's status counts
finished runs and shows the run in progress.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

PID_FILE = "sfttrain.pid"
LOG_FILE = "sfttrain.log"
PROGRESS_FILE = "progress.json"


def detach(argv: Sequence[str], run_dir: str | Path) -> int:
    """Start ``sfttrain <argv>`` (without ``--detach``) in a new session; returns its pid."""
    out = Path(run_dir)
    out.mkdir(parents=True, exist_ok=True)
    args = [a for a in argv if a != "--detach"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with (out / LOG_FILE).open("ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "sfttrain.cli", *args],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True, env=env, cwd=os.getcwd(),
        )  # fmt: skip
    (out / PID_FILE).write_text(f"{proc.pid}\n", encoding="utf-8")
    print(f"sfttrain: started in the background, pid {proc.pid}\n"
          f"  follow:  tail -f {out / LOG_FILE}\n"
          f"  status:  sfttrain status {out}\n"
          f"  stop:    kill {proc.pid}   (starting the same command again resumes)")  # fmt: skip
    return proc.pid


def alive(pid: int) -> bool:
    """Whether process ``pid`` exists and is not a zombie."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True


def _last_metrics(run_dir: Path) -> dict[str, Any]:
    path = run_dir / "metrics.jsonl"
    if not path.is_file():
        return {}
    last: dict[str, Any] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            continue
        if "loss" in rec:
            last = rec
    return last


def _process(folder: Path) -> str:
    pid_file = folder / PID_FILE
    if not pid_file.is_file():
        return "no pid file (not started with --detach)"
    pid = int(pid_file.read_text().split()[0])
    return f"pid {pid} {'alive' if alive(pid) else 'not running'}"


def run_status(run_dir: str | Path) -> dict[str, Any]:
    """Step, ETA, last metrics and process state of a training run folder."""
    folder = Path(run_dir)
    out: dict[str, Any] = {"run": str(folder), "process": _process(folder)}
    prog_path = folder / PROGRESS_FILE
    if prog_path.is_file():
        p = json.loads(prog_path.read_text(encoding="utf-8"))
        out.update(step=p["step"], max_steps=p["max_steps"], finished=p["finished"])
        done = p["step"] - p["first_step"]
        rate = done / max(p["time"] - p["started"], 1e-9)
        if not p["finished"] and done > 0 and p["max_steps"] > 0:
            out["eta_s"] = round((p["max_steps"] - p["step"]) / rate, 1)
        out["updated_s_ago"] = round(time.time() - p["time"], 1)
    out["final"] = (folder / "final").is_dir()
    out["last_metrics"] = _last_metrics(folder)
    return out


def sweep_status(sweep_dir: str | Path) -> dict[str, Any]:
    """Finished runs out of all, the newest run in progress, and the process state."""
    folder = Path(sweep_dir)
    plan = json.loads((folder / "sweep.json").read_text(encoding="utf-8"))
    runs = [r["run"] for r in plan["runs"]]
    done = [r for r in runs if (folder / "runs" / r / "sweep_result.json").is_file()]
    out: dict[str, Any] = {"sweep": str(folder), "process": _process(folder),
                           "runs": len(runs), "finished": len(done)}  # fmt: skip
    active = [folder / "runs" / r for r in runs if r not in done and (folder / "runs" / r).is_dir()]
    if active:
        newest = max(active, key=lambda p: p.stat().st_mtime)
        out["current"] = run_status(newest)
    return out


def status(path: str | Path) -> dict[str, Any]:
    """``sweep_status`` for a sweep folder, else ``run_status``."""
    folder = Path(path)
    if not folder.is_dir():
        raise FileNotFoundError(f"status: no such folder {str(folder)!r}")
    return sweep_status(folder) if (folder / "sweep.json").is_file() else run_status(folder)


def format_status(info: dict[str, Any]) -> str:
    """``status`` as a few readable lines."""
    lines = []
    if "sweep" in info:
        lines.append(f"sweep {info['sweep']}: {info['finished']}/{info['runs']} runs finished; "
                     f"{info['process']}")  # fmt: skip
        if "current" in info:
            lines.append("current run:")
            lines += ["  " + line for line in format_status(info["current"]).splitlines()]
        return "\n".join(lines)
    step = f"step {info.get('step', '?')}/{info.get('max_steps', '?')}"
    eta = f", ETA {info['eta_s']:.0f}s" if "eta_s" in info else ""
    state = "finished" if info.get("final") else "not finished"
    lines.append(f"run {info['run']}: {step}{eta}, {state}; {info['process']}")
    m = info.get("last_metrics") or {}
    if m:
        shown = ", ".join(
            f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in m.items()
        )
        lines.append(f"last metrics: {shown}")
    return "\n".join(lines)
