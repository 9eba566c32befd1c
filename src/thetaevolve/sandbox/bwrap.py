"""The bubblewrap launcher prefix: no network, a read-only allowlisted view of the system.

The sandbox sees only the system directories (/usr, /etc, the /lib links), the Python
installation (every directory on ``python -I``'s ``sys.path``, re-bound at the same path so
an interpreter under /root still works once the candidate runs as an unprivileged uid), a
fresh /dev and /proc of its own pid namespace, and a private tmpfs /tmp. The run directory,
the database, /root and /home are simply not there.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import shutil
import subprocess
from collections.abc import Iterable

log = logging.getLogger("thetaevolve.sandbox")

SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc")
WORKER_DIR_INSIDE = "/sandbox"
WORKER_FILES = ("worker.py", "child.py", "proctree.py", "kill_reasons.py")
WORKER_PATH_INSIDE = f"{WORKER_DIR_INSIDE}/worker.py"
# Root keeps only what the worker needs to hand each child to its own uid and clean up.
ROOT_CAPS = (
    "CAP_SETUID",
    "CAP_SETGID",
    "CAP_CHOWN",
    "CAP_KILL",
    "CAP_DAC_OVERRIDE",
    "CAP_FOWNER",
)


@functools.lru_cache(maxsize=8)
def python_paths(executable: str) -> tuple[str, ...]:
    """Directories the isolated interpreter reads: its prefixes and its ``sys.path``."""
    probe = (
        "import sys, json; print(json.dumps([sys.prefix, sys.base_prefix, sys.exec_prefix,"
        " sys.base_exec_prefix, *sys.path]))"
    )
    out = subprocess.run(
        [executable, "-I", "-c", probe], capture_output=True, text=True, env={}, timeout=60
    )
    if out.returncode != 0:
        raise RuntimeError(f"cannot query {executable} for its paths: {out.stderr.strip()}")
    paths = [os.path.realpath(p) for p in json.loads(out.stdout) if p]
    paths.append(os.path.dirname(os.path.realpath(executable)))
    paths.append(os.path.dirname(os.path.abspath(executable)))
    return tuple(p for p in dict.fromkeys(paths) if os.path.isdir(p))


def _under(path: str, roots: Iterable[str]) -> bool:
    return any(path == r or path.startswith(r.rstrip("/") + "/") for r in roots)


def mount_args(
    executable: str, worker_path: str, tmp_bytes: int, extra_ro: Iterable[str] = ()
) -> list[str]:
    """bwrap arguments for the filesystem view (see the module docstring). ``extra_ro``:
    directories also bound read-only at their own path (a problem folder and our shims)."""
    args: list[str] = []
    bound: list[str] = []
    for name in SYSTEM_DIRS:
        if os.path.islink(name):
            args += ["--symlink", os.readlink(name), name]
        elif os.path.isdir(name):
            args += ["--ro-bind", name, name]
            bound.append(name)
    args += ["--dev", "/dev", "--proc", "/proc"]
    args += ["--perms", "0755", "--size", str(tmp_bytes), "--tmpfs", "/tmp"]
    # Only the candidate's own directory is writable: no shared /dev/shm between candidates.
    args += ["--perms", "0755", "--size", "4096", "--tmpfs", "/dev/shm"]
    # The interpreter comes after /tmp, so that a virtualenv under /tmp stays visible.
    made: set[str] = {"/tmp", "/dev"}
    extra = [os.path.realpath(p) for p in extra_ro]
    for path in [*sorted(python_paths(executable), key=len), *extra]:
        if _under(path, bound) or _under(os.path.realpath(path), bound):
            continue
        # bwrap would copy the host's mode (0700 for /root) onto the parents it creates.
        parts = path.strip("/").split("/")
        for depth in range(1, len(parts)):
            parent = "/" + "/".join(parts[:depth])
            if parent not in made and not _under(parent, bound):
                args += ["--perms", "0755", "--dir", parent]
                made.add(parent)
        args += ["--ro-bind", path, path]
        bound.append(path)
    # The worker script and its helpers, and nothing else of ours.
    for name in WORKER_FILES:
        source = os.path.join(os.path.dirname(worker_path), name)
        args += ["--ro-bind", source, f"{WORKER_DIR_INSIDE}/{name}"]
    return args


def bwrap_command(
    executable: str,
    worker_path: str,
    env: dict[str, str],
    tmp_bytes: int,
    as_root: bool,
    info_fd: int | None = None,
    extra_ro: Iterable[str] = (),
) -> list[str]:
    """The full command line that starts the worker inside bubblewrap."""
    binary = shutil.which("bwrap") or "bwrap"
    cmd = [binary, *mount_args(executable, worker_path, tmp_bytes, extra_ro)]
    if info_fd is not None:
        cmd += ["--info-fd", str(info_fd)]  # reports the sandbox's pid 1, to kill it by
    # No --die-with-parent: it is tied to the parent *thread*; the worker exits on EOF.
    cmd += ["--unshare-net", "--unshare-pid", "--unshare-ipc", "--unshare-uts"]
    cmd += ["--unshare-cgroup-try", "--new-session", "--chdir", "/tmp"]
    if as_root:
        cmd += ["--cap-drop", "ALL"]
        for cap in ROOT_CAPS:
            cmd += ["--cap-add", cap]
    else:
        cmd += ["--unshare-user"]
    cmd += ["--clearenv"]
    for key, value in env.items():
        cmd += ["--setenv", key, value]
    cmd += [executable, "-I", WORKER_PATH_INSIDE]
    return cmd


@functools.lru_cache(maxsize=8)
def bwrap_problem(executable: str, worker_path: str, as_root: bool) -> str | None:
    """Why bwrap cannot start our interpreter here; None when it can."""
    if shutil.which("bwrap") is None:
        return "bwrap is not installed (Debian/Ubuntu: apt-get install bubblewrap)"
    cmd = bwrap_command(executable, worker_path, {}, 1 << 20, as_root)
    cmd[-1:] = ["-c", "import json"]  # replace the worker script by a trivial program
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, env={}, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"bwrap failed to start: {exc}"
    if out.returncode != 0:
        return f"bwrap failed (exit {out.returncode}): {out.stderr.strip()[:300]}"
    return None


_warned = False


def resolve_use_bwrap(mode: str, executable: str, worker_path: str, as_root: bool) -> bool:
    """Decide once per sandbox; warn once per process when bwrap is wanted but unusable."""
    global _warned
    if mode == "never":
        return False
    problem = bwrap_problem(executable, worker_path, as_root)
    if problem is None:
        return True
    if mode == "always":
        raise RuntimeError(f"sandbox.use_bwrap=always but {problem}")
    if not _warned:
        _warned = True
        log.warning(
            "sandbox: running WITHOUT bubblewrap (%s). Candidates still get rlimits, their own "
            "session, an empty environment and a private directory, but they can use the "
            "network and read the filesystem. Install bubblewrap for full isolation.",
            problem,
        )
    return False
