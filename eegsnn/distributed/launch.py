"""Start ``n`` local processes with ``mlx.launch`` (ring backend over loopback).

Used by the tests and ``benchmarks/bench_scaling.py``; users run ``mlx.launch`` directly
(see ``docs/scaling.md``). The ring backend listens on ``starting_port + rank`` on
127.0.0.1 only; :func:`free_port_block` finds ``n`` consecutive free ports, and
:func:`launch_local` retries with new ports if another program took them meanwhile.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from eegsnn.errors import ConfigError

__all__ = ["free_port_block", "launch_local", "mlx_launch_executable"]

_LOOPBACK = "127.0.0.1"


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind((_LOOPBACK, port))
        except OSError:
            return False
    return True


def free_port_block(n: int, *, tries: int = 50) -> int:
    """First port of ``n`` consecutive ports currently free on 127.0.0.1."""
    for _ in range(tries):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind((_LOOPBACK, 0))
            base = s.getsockname()[1]
        if base + n < 65535 and all(_port_free(base + i) for i in range(n)):
            return base
    raise ConfigError(f"no block of {n} free loopback ports found")


def mlx_launch_executable() -> str:
    """Path of ``mlx.launch`` beside this Python (the venv's), else on ``PATH``."""
    beside = Path(sys.executable).with_name("mlx.launch")
    if beside.is_file():
        return str(beside)
    found = shutil.which("mlx.launch")
    if found is None:
        raise ConfigError("mlx.launch not found (it ships with the mlx package)")
    return found


def launch_local(script: str | os.PathLike, args: Sequence[str] = (), *, n: int = 2,
                 timeout_s: float = 120.0, env: dict[str, str] | None = None,
                 retries: int = 2) -> subprocess.CompletedProcess:
    """Run ``python script args`` as ``n`` ring-backend processes on 127.0.0.1.

    With ``n == 1`` the script runs as one plain process (no group). Output of all ranks
    is captured (text). A run that fails with an address-in-use error is retried on new
    ports. The return code is 1 when any rank failed (``mlx.launch`` itself may exit 0).

    Raises:
        subprocess.TimeoutExpired: the job ran past ``timeout_s`` (all ranks are killed).
    """
    if n < 1:
        raise ConfigError(f"n must be >= 1, got {n}")
    full_env = {**os.environ, **(env or {})}
    if n == 1:
        for var in ("MLX_HOSTFILE", "MLX_RANK", "OMPI_COMM_WORLD_RANK", "PMI_RANK"):
            full_env.pop(var, None)
        return subprocess.run([sys.executable, str(script), *args], capture_output=True,
                              text=True, timeout=timeout_s, env=full_env)
    proc = None
    for _ in range(retries + 1):
        port = free_port_block(n)
        cmd = [mlx_launch_executable(), "--backend", "ring", "--hosts", _LOOPBACK,
               "-n", str(n), "--starting-port", str(port), "--python", sys.executable,
               "--", str(script), *args]  # "--": the script's options stay its own
        proc = _run_group(cmd, timeout_s, full_env)
        if proc.returncode == 0 or "Address already in use" not in (proc.stderr or ""):
            return proc
    assert proc is not None
    return proc


def _run_group(cmd: list[str], timeout_s: float, env: dict[str, str],
               ) -> subprocess.CompletedProcess:
    """Run the launcher in its own process group so a timeout kills every rank."""
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         env=env, start_new_session=True)
    try:
        out, err = p.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        import signal

        try:
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        out, err = p.communicate()
        raise subprocess.TimeoutExpired(cmd, timeout_s, output=out, stderr=err) from None
    code = p.returncode
    # mlx.launch can exit 0 although a rank failed; it reports that rank on stderr
    if code == 0 and re.search(r"Node with rank \d+ exited with code -?[1-9]", err or ""):
        code = 1
    return subprocess.CompletedProcess(cmd, code, out, err)
