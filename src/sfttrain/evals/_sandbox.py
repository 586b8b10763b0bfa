"""Run model-written code in a child process that can do little harm.

Each program runs in ``python -I`` (isolated mode: no user site, no ``PYTHON*`` env) in
a fresh temporary folder that is deleted afterwards, with:

- limits (``resource.setrlimit`` in the child): CPU seconds, address space, file size,
  and a wall-clock timeout enforced by the parent (the whole process group is killed);
- no network: a new, empty network namespace (``unshare -n``; root or user namespaces)
  when the system allows one, and in every case an audit hook that refuses
  ``socket.connect`` / ``bind`` / ``sendto`` and starting processes;
- no writes outside the folder: the same audit hook refuses opening a file for writing,
  and removing, renaming or creating paths, anywhere but inside the folder.

Audit hooks (PEP 578) cannot be removed from Python code once installed; ``ctypes`` is
refused too, so the program cannot step around them in-process.

>>> run_code("print(1 + 1)").stdout
'2\\n'
>>> run_code("while True: pass", timeout=1.0).status
'timeout'
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

_GUARD = r"""
import os, sys
_ROOT = os.path.realpath(os.getcwd())
_WRITE = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
_PATHS = {"os.remove", "os.rmdir", "os.mkdir", "os.rename", "os.symlink", "os.link",
          "os.chmod", "os.chown", "os.truncate", "os.utime", "shutil.rmtree", "shutil.move",
          "shutil.copyfile", "os.replace"}
_DENY = {"socket.connect", "socket.bind", "socket.sendto", "socket.sendmsg",
         "subprocess.Popen", "os.system", "os.exec", "os.posix_spawn", "os.spawn",
         "os.fork", "os.forkpty", "pty.spawn", "ctypes.dlopen", "ctypes.cdata",
         "ctypes.dlsym", "os.kill", "os.killpg", "sys.remote_exec"}
def _inside(path):
    try:
        p = os.path.realpath(os.fsdecode(path))
    except (TypeError, ValueError):
        return False
    return p == _ROOT or p.startswith(_ROOT + os.sep)
def _hook(event, args):
    if event in _DENY:
        raise PermissionError(f"sandbox: {event} is not allowed")
    if event == "open" and args and isinstance(args[0], (str, bytes, os.PathLike)):
        mode, flags = args[1] or "", args[2] or 0
        writes = any(c in str(mode) for c in "wax+") or bool(flags & _WRITE)
        if writes and not _inside(args[0]):
            raise PermissionError(f"sandbox: writing {args[0]!r} outside the folder")
    elif event in _PATHS:
        for a in args:
            if isinstance(a, (str, bytes, os.PathLike)) and not _inside(a):
                raise PermissionError(f"sandbox: {event} on {a!r} outside the folder")
sys.addaudithook(_hook)
del _hook
_src = open("program.py").read()
exec(compile(_src, "program.py", "exec"), {"__name__": "__main__"})
"""


@dataclass(frozen=True)
class SandboxResult:
    """``status``: ``passed`` (exit 0), ``failed`` (non-zero exit), ``timeout`` or ``killed``."""

    status: str
    returncode: int | None
    stdout: str
    stderr: str
    network_namespace: bool

    @property
    def passed(self) -> bool:
        return self.status == "passed"


@lru_cache(maxsize=1)
def _unshare_prefix() -> tuple[str, ...]:
    """``unshare -n`` (root) or ``unshare -rn`` (user namespaces) if it works here, else ()."""
    tool = shutil.which("unshare")
    if tool is None or not sys.platform.startswith("linux"):
        return ()
    for flags in (("-n",), ("-rn",)):
        try:
            ok = subprocess.run([tool, *flags, "true"], capture_output=True, timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            continue
        if ok.returncode == 0:
            return (tool, *flags)
    return ()


def _limits(cpu_seconds: int, memory_mb: int, file_mb: int) -> None:  # pragma: no cover - child
    import resource

    os.setsid()
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 1))
    resource.setrlimit(resource.RLIMIT_AS, (memory_mb << 20, memory_mb << 20))
    resource.setrlimit(resource.RLIMIT_FSIZE, (file_mb << 20, file_mb << 20))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def run_code(
    program: str,
    *,
    timeout: float = 10.0,
    memory_mb: int = 1024,
    cpu_seconds: int | None = None,
    file_mb: int = 16,
) -> SandboxResult:
    """Run ``program`` (Python source) in the sandbox; never raises for what the program does."""
    if timeout <= 0 or memory_mb < 64:
        raise ValueError("run_code: timeout > 0 and memory_mb >= 64")
    cpu = cpu_seconds if cpu_seconds is not None else max(1, int(timeout) + 1)
    prefix = _unshare_prefix()
    folder = Path(tempfile.mkdtemp(prefix="sfttrain-sandbox-"))
    try:
        (folder / "program.py").write_text(program, encoding="utf-8")
        env = {
            "PATH": "/usr/bin:/bin",
            "HOME": str(folder),
            "TMPDIR": str(folder),
            "LANG": "C.UTF-8",
        }
        proc = subprocess.Popen(
            [*prefix, sys.executable, "-I", "-c", _GUARD],
            cwd=folder, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True,
            preexec_fn=lambda: _limits(cpu, memory_mb, file_mb),
        )  # fmt: skip
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            out, err = proc.communicate()
            return SandboxResult("timeout", None, out, err, bool(prefix))
        rc = proc.returncode
        status = "passed" if rc == 0 else "killed" if rc < 0 else "failed"
        if rc in (-signal.SIGXCPU, -signal.SIGKILL):
            status = "timeout"
        return SandboxResult(status, rc, out, err, bool(prefix))
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def check_program(prompt: str, completion: str, test: str, entry_point: str) -> str:
    """The HumanEval program: the prompt, the model's completion, the tests, the check call.

    A completion that defines ``entry_point`` itself (a chat reply with the whole
    function, in a code fence or not) replaces the prompt instead of continuing it.

    >>> program = check_program("def f(): ", "return 1", "def check(c): assert c() == 1", "f")
    >>> program.splitlines()
    ['def f(): return 1', '', 'def check(c): assert c() == 1', '', 'check(f)']
    """
    body = f"{prompt}{completion}"
    if f"def {entry_point}(" in completion:
        fenced = completion.split("```")
        body = next((b for b in fenced if f"def {entry_point}(" in b), completion)
        body = body.removeprefix("python").lstrip("\n")
    return f"{body}\n\n{test}\n\ncheck({entry_point})\n"
