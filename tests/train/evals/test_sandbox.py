"""The code sandbox: limits, no network, no writes outside its folder, HumanEval checks."""

from __future__ import annotations

import socket
import time
from pathlib import Path

from sfttrain import evals

FIX = Path(__file__).parents[2] / "fixtures" / "evals"


def test_infinite_loop_is_killed_at_the_timeout() -> None:
    """Property: a program that never ends is stopped near its timeout and reported as such."""
    began = time.monotonic()
    result = evals.run_code("while True:\n    pass\n", timeout=1.0)
    assert result.status == "timeout" and not result.passed
    assert time.monotonic() - began < 5


def test_connect_to_localhost_fails_even_to_a_listening_port() -> None:
    """Property: a program cannot reach a server listening on 127.0.0.1 outside the sandbox."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    port = server.getsockname()[1]
    try:
        program = (
            "import socket\ns = socket.socket()\ns.settimeout(2)\n"
            f"s.connect(('127.0.0.1', {port}))\nprint('connected')\n"
        )
        result = evals.run_code(program, timeout=5)
    finally:
        server.close()
    assert not result.passed and "connected" not in result.stdout
    assert "Error" in result.stderr


def test_writes_outside_the_folder_are_refused_inside_allowed(tmp_path: Path) -> None:
    """Property: the program writes its own folder but not a path outside it."""
    target = tmp_path / "escaped.txt"
    result = evals.run_code(f"open({str(target)!r}, 'w').write('x')\n")
    assert not result.passed and "outside the folder" in result.stderr
    assert not target.exists()
    result = evals.run_code(
        "import os\nos.remove(__import__('sys').executable)\n"
    )  # removing a file anywhere else is refused too
    assert not result.passed and "outside the folder" in result.stderr
    inside = evals.run_code("open('x.txt', 'w').write('hi')\nprint(open('x.txt').read())\n")
    assert inside.passed and inside.stdout == "hi\n"


def test_memory_limit_and_no_subprocesses() -> None:
    """Property: a program past its memory limit fails; starting a process is refused."""
    assert evals.run_code("x = bytearray(2 << 30)\n", memory_mb=256).status == "failed"
    spawn = evals.run_code("import subprocess\nsubprocess.run(['true'])\n")
    assert not spawn.passed and "not allowed" in spawn.stderr


def test_humaneval_reference_solutions_pass_and_wrong_ones_fail() -> None:
    """Property: each fixture's canonical solution passes its tests; a wrong body fails."""
    for item in evals.load_task(FIX / "humaneval.jsonl", "humaneval"):
        meta = item.meta
        good = evals.check_program(
            item.question, meta["solution"], meta["test"], meta["entry_point"]
        )
        bad = evals.check_program(
            item.question, "    return None\n", meta["test"], meta["entry_point"]
        )
        assert evals.run_code(good).passed
        assert evals.run_code(bad).status == "failed"


def test_a_chat_reply_with_the_whole_function_replaces_the_prompt() -> None:
    """Property: a reply that defines the entry point (fenced or not) is run as the program."""
    item = evals.load_task(FIX / "humaneval.jsonl", "humaneval")[0]
    test, entry = item.meta["test"], item.meta["entry_point"]
    reply = "Here it is:\n```python\ndef add(a, b):\n    return a + b\n```\nDone."
    assert evals.run_code(evals.check_program(item.question, reply, test, entry)).passed
