"""The worker's view of a candidate's process tree: its memory, killing it, reaping it.

The worker is a child subreaper, so every process a candidate starts stays a descendant
of the worker, even one that escaped its process group with setsid and a double fork.
Standard library only (see worker.py).
"""

from __future__ import annotations

import ctypes
import os
import shutil
import signal
import time
from typing import Any

LIBC = ctypes.CDLL(None, use_errno=True)
PR_SET_CHILD_SUBREAPER = 36
IPC_RMID = 0


def kill_group(pid: int) -> None:
    for target in (lambda: os.killpg(pid, signal.SIGKILL), lambda: os.kill(pid, signal.SIGKILL)):
        try:
            target()
        except (ProcessLookupError, PermissionError):
            pass


# RLIMIT_AS bounds each process, not their sum: a candidate that forks 60 children could
# still take 60 times the limit. So the worker also sums its descendants' private memory.
MEMORY_CHECK_S = 0.1
_PAGE = os.sysconf("SC_PAGE_SIZE")
baseline_pages = 0  # the worker's own anonymous pages, which every child starts sharing


def anon_pages(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm", "rb") as fh:
            fields = fh.read().split()
        return int(fields[1]) - int(fields[2])  # resident minus file-backed and shared
    except (OSError, IndexError, ValueError):
        return 0


def _task_children(pid: int) -> list[int]:
    found: list[int] = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/children", "rb") as fh:
                found.extend(int(x) for x in fh.read().split())
    except (OSError, ValueError):
        pass
    return found


def tree_memory() -> int:
    """Bytes of anonymous memory in all our descendants beyond what they share with us."""
    total = 0
    pending = _task_children(os.getpid())
    seen: set[int] = set()
    while pending and len(seen) < 10_000:
        pid = pending.pop()
        if pid in seen:
            continue
        seen.add(pid)
        total += max(0, anon_pages(pid) - baseline_pages)
        pending.extend(_task_children(pid))
    return total * _PAGE



# Fork copies one page-table entry per resident anonymous 4 KiB page, and the child's exit
# tears them all down again: with numpy and scipy.optimize imported that is ~10,000 entries
# and about a millisecond each way, per candidate. Collapsed into 2 MiB pages, the heap costs
# one entry per 2 MiB at fork (measured here: fork 1.25 -> 0.95 ms, ~0.4 ms less CPU per
# candidate in all). Isolation is unchanged: the memory stays private copy-on-write, and a
# child's write splits the huge page and copies 4 KiB in that child only.
MADV_COLLAPSE = 25  # Linux 6.1+; EINVAL elsewhere, where nothing changes
_HUGE = 2 << 20


def collapse_to_huge_pages(maps_path: str = "/proc/self/maps") -> int:
    """Best effort: back this process's anonymous writable memory (the malloc heap, Python's
    arenas) with transparent huge pages. Returns the bytes collapsed (0 where unsupported).

    No MADV_HUGEPAGE: memory touched later (in candidates too) keeps the system's default.
    """
    madvise = LIBC.madvise
    madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    madvise.restype = ctypes.c_int
    try:
        with open(maps_path, "rb") as fh:
            lines = fh.read().splitlines()
    except OSError:
        return 0
    collapsed = 0
    for line in lines:
        fields = line.split()
        if len(fields) < 5 or fields[1] != b"rw-p" or fields[5:] not in ([], [b"[heap]"]):
            continue  # only private anonymous memory: no files, stacks or special mappings
        start, end = (int(x, 16) for x in fields[0].split(b"-"))
        start = (start + _HUGE - 1) & ~(_HUGE - 1)
        end &= ~(_HUGE - 1)
        if end - start >= _HUGE and madvise(start, end - start, MADV_COLLAPSE) == 0:
            collapsed += end - start
    return collapsed


def force_rmtree(path: str) -> None:
    def fix(func: Any, target: str, _exc: Any) -> None:
        try:
            os.chmod(os.path.dirname(target), 0o700)
            os.chmod(target, 0o700)
            func(target)
        except OSError:
            pass

    shutil.rmtree(path, onerror=fix)


def empty_dir(path: str, keep: frozenset[str] = frozenset()) -> None:
    """Remove everything inside ``path`` (a tmpfs private to this worker's bwrap): started
    as an ordinary user, candidates share the worker's uid and may write there.

    Directories in ``keep`` (the interpreter's own, bound into /tmp when the virtualenv
    lives there) and the directories leading to them are left in place.
    """
    try:
        entries = os.listdir(path)
    except OSError:
        return
    for name in entries:
        target = os.path.join(path, name)
        if target in keep:
            continue
        if any(k.startswith(target + "/") for k in keep):
            empty_dir(target, keep)  # clear around the kept directory, not through it
            continue
        if os.path.isdir(target) and not os.path.islink(target):
            force_rmtree(target)
        else:
            try:
                os.unlink(target)
            except OSError:
                pass


def clear_sysv_ipc(uid: int | None) -> None:
    """Remove every SysV shared-memory segment, semaphore set and message queue in our IPC
    namespace (bwrap gives the worker one of its own, so all of them are candidates').
    Only their owner may remove them, so as root this is done as the candidate uid."""
    found: list[tuple[str, int]] = []
    for kind in ("shm", "sem", "msg"):
        try:
            with open(f"/proc/sysvipc/{kind}", "rb") as fh:  # binary: no text decoder
                rows = fh.read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            if len(fields) > 1 and fields[1].isdigit():
                found.append((kind, int(fields[1])))
    if not found:
        return
    helper = os.fork() if uid is not None else 0
    if helper:
        os.waitpid(helper, 0)
        return
    try:
        if uid is not None:
            os.setgroups([])
            os.setresgid(uid, uid, uid)
            os.setresuid(uid, uid, uid)
        for kind, ident in found:
            if kind == "shm":
                LIBC.shmctl(ident, IPC_RMID, None)
            elif kind == "sem":
                LIBC.semctl(ident, 0, IPC_RMID)
            else:
                LIBC.msgctl(ident, IPC_RMID, None)
    finally:
        if uid is not None:
            os._exit(0)


def sweep(workdir: str) -> None:
    """Kill whatever the last candidate left running and remove its directory.

    The worker is a child subreaper, so every straggler, even one that escaped the
    process group with setsid and a double fork, is a descendant of ours: killing our
    children until none is left (each death hands its children to us) gets them all.
    """
    give_up = time.monotonic() + 5.0
    while True:
        reap_orphans()
        children = _children()
        if not children or time.monotonic() > give_up:
            break
        for pid in children:
            kill_group(pid)
        time.sleep(0.001)
    try:
        os.rmdir(workdir)  # the common case, an empty directory: one syscall, no tree walk
    except FileNotFoundError:
        pass
    except OSError:
        force_rmtree(workdir)  # not empty, or not a plain directory: walk and remove it


def _children() -> list[int]:
    me = os.getpid()
    try:
        with open(f"/proc/{me}/task/{me}/children") as fh:
            return [int(pid) for pid in fh.read().split()]
    except OSError:
        pass
    found = []  # kernels without CONFIG_PROC_CHILDREN: scan for our pid as parent
    for entry in os.listdir("/proc"):
        try:
            with open(f"/proc/{entry}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if fields[1] == str(me):
            found.append(int(entry))
    return found


def sweep_uid(uid: int) -> None:
    """At startup: kill anything still running as our leased uid, e.g. stragglers of a
    worker that died before it could clean up (they are no descendants of ours)."""
    helper = os.fork()
    if helper == 0:
        code = 0
        try:
            os.setgroups([])
            os.setresgid(uid, uid, uid)
            os.setresuid(uid, uid, uid)
            # kill(-1) succeeds whenever any other process exists, so check by signal 0.
            give_up = time.monotonic() + 5.0
            while time.monotonic() < give_up:
                try:
                    os.kill(-1, signal.SIGKILL)
                except ProcessLookupError:
                    break
                if not _has_processes(os.getpid()):
                    break
                time.sleep(0.002)
        except BaseException:  # noqa: BLE001
            code = 1
        os._exit(code)
    os.waitpid(helper, 0)


def _has_processes(me: int) -> bool:
    """Whether any process but ``me`` is still signalable, i.e. runs as our uid.

    Tested with signal 0 rather than by /proc ownership: a process that changed uid is not
    dumpable, and its /proc entry belongs to root.
    """
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != me:
            try:
                os.kill(int(entry), 0)
                return True
            except OSError:
                pass
    return False


def reap_orphans() -> None:
    """Collect zombies of orphaned candidate descendants reparented to us."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
