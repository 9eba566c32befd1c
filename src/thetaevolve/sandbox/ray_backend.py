"""The sandbox seam on a Ray cluster: our own warm pool on every node, the verdict at home.

``sandbox.backend=ray`` puts one ``EvalNode`` actor on every node of the cluster that has
CPUs. The actor reserves the node's CPUs and holds a ``LocalSandbox`` (sandbox/runner.py)
with one warm worker per CPU, so a candidate gets the same isolation, limits and deadline
on a remote node as on this machine. Only the candidate's code travels out and only its
``RunResult`` data travels back; the trusted verifier, the database and the store stay in
the driver (evaluation.py, gym.py).

What the driver does here:
- backpressure: a caller takes a free slot before anything is sent, so at most one
  candidate per cluster CPU is in flight and the rest wait on this machine;
- faults: when a node or its actor dies mid-candidate, the candidate is sent again to
  another node (at most ``MAX_ATTEMPTS`` times in all). It is never scored as the
  candidate's failure: after the last attempt the run stops with ``ClusterError`` and the
  batch is not committed, so a resume evaluates it again. The run goes on with the nodes
  that remain and logs what it lost;
- growth: a watcher polls the cluster's node table and starts an actor on every node that
  joins, so new slots are used from the next candidate on;
- deadlines: the node's sandbox kills a candidate at its deadline. Ray task cancellation
  is never used (a non-forced ``ray.cancel`` does not stop a sleeping task and a forced
  one kills the worker process, ray#32954, ray#54865); the driver only gives up on a node
  that has not answered long after the deadline, as an infrastructure failure.

This module imports Ray at the top: ``make_sandbox`` imports it only when the backend is
chosen, so the core install never needs Ray.
"""

from __future__ import annotations

import collections
import dataclasses
import logging
import math
import os
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any, cast

import ray
from ray.exceptions import GetTimeoutError, RayError
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from thetaevolve.config import SandboxConfig
from thetaevolve.errors import UserError
from thetaevolve.sandbox.evaluator_host import EvaluatorHost
from thetaevolve.sandbox.base import MAX_CODE_BYTES, START_TIMEOUT_S
from thetaevolve.sandbox.runner import LocalSandbox
from thetaevolve.tasks.base import Task
from thetaevolve.types import Outcome, RunResult

log = logging.getLogger("thetaevolve.sandbox")

MAX_ATTEMPTS = 3  # sends of one candidate; each failed one lost a node or its actor
MAX_ACTOR_FAILURES = 3  # actors lost on one live node before that node is left alone
POLL_S = 1.0  # how often the node table is read (joins and departures)
NO_NODE_WAIT_S = 120.0  # how long a candidate waits for a node when none is left
REPLY_GRACE_S = 60.0  # past the node's own deadline: the node is taken as wedged
REST_S = 10.0  # after losing its actor, a node still listed alive gets a new one this late
CONNECT_TIMEOUT_S = 5.0  # to reach the head named in sandbox.ray_address
CALLERS = 1024  # threads the gym may block in run(); the slots bound what is in flight


class ClusterError(UserError):
    """The Ray cluster cannot run the candidates (none reachable, or all lost)."""


@dataclass(frozen=True)
class PoolSpec:
    """What a node's sandbox needs of the task: the task object itself stays here."""

    timeout_s: float
    heavy_modules: tuple[str, ...]
    evaluator_host: EvaluatorHost | None = None  # an OpenEvolve/Shinka problem's evaluator


class EvalNode:
    """One per node (a Ray actor): a warm ``LocalSandbox`` with one worker per reserved CPU.

    Ray runs its methods on up to ``slots`` threads at once (a threaded actor), and the
    local sandbox is thread-safe, so the node's workers are all busy when the driver sends
    one candidate per slot.
    """

    def __init__(self, spec: PoolSpec, config_fields: dict[str, Any], slots: int) -> None:
        config = SandboxConfig.model_validate(
            {**config_fields, "workers": slots, "backend": "local"}
        )
        # The sandbox reads only timeout_s, heavy_modules and evaluator_host of its task.
        self._sandbox = LocalSandbox(cast(Task, spec), config)
        self._slots = slots

    def ready(self) -> dict[str, Any]:
        return {
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "slots": self._slots,
            "bwrap": self._sandbox.use_bwrap,
            "uids": [w.uid for w in self._sandbox.workers()],  # as root: the candidates' uids
        }

    def run(self, code: str, timeout_s: float) -> dict[str, Any]:
        started = time.perf_counter()
        result = self._sandbox.run(code, timeout_s)
        # Plain data back over the object store: no class of ours has to unpickle there.
        # (Not dataclasses.asdict: it deep-copies a solution that may be 64 MB.)
        fields = {f.name: getattr(result, f.name) for f in dataclasses.fields(result)}
        fields["outcome"] = result.outcome.value
        fields["node_wall_s"] = time.perf_counter() - started  # so the driver sees Ray's share
        return fields

    def wait_idle(self) -> None:
        self._sandbox.wait_idle()

    def close(self) -> None:
        self._sandbox.close()


_REMOTE_EVAL_NODE: Any = None


def _remote_eval_node() -> Any:
    """``EvalNode`` as a Ray actor class, made once: each new one is exported again."""
    global _REMOTE_EVAL_NODE
    if _REMOTE_EVAL_NODE is None:
        _REMOTE_EVAL_NODE = ray.remote(EvalNode)
    return _REMOTE_EVAL_NODE


@dataclass(frozen=True)
class NodeInfo:
    """A read-only look at one evaluation node, for tests and diagnostics (``RaySandbox.nodes``)."""

    node_id: str
    address: str
    slots: int
    actor: Any  # the node's EvalNode actor handle
    busy: int  # candidates in flight there now
    runs: int  # candidates sent there so far
    info: dict[str, Any]  # what its actor's ready() said (host, pid, slots, bwrap, uids)


@dataclass(eq=False)
class _Node:
    node_id: str
    address: str
    slots: int
    actor: Any
    busy: int = 0
    runs: int = 0  # candidates sent here
    info: dict[str, Any] = dataclasses.field(default_factory=dict)  # what ready() said

    @property
    def name(self) -> str:
        return f"{self.address} ({self.node_id[:8]})"


def connect(address: str) -> bool:
    """Join (or, for ``local``, start) a Ray cluster; True when this call did it.

    A driver that already called ``ray.init`` (a test, a notebook) is used as it is.
    """
    if ray.is_initialized():
        return False
    _check_reachable(address)
    options: dict[str, Any] = {"include_dashboard": False, "logging_level": logging.WARNING}
    try:
        ray.init(address=address, **options)
    except ConnectionError as exc:
        raise ClusterError(
            f"sandbox.ray_address={address}: no Ray cluster answers there ({exc}). Start one "
            "with `ray start --head` (docs/scale-out.md), or set sandbox.ray_address=local "
            "to try the Ray backend on this machine alone"
        ) from None
    return True


def _check_reachable(address: str) -> None:
    """Fail in seconds on a head that does not answer: ``ray.init`` retries it for ever."""
    if address in ("auto", "local"):
        return
    host, _, port = address.removeprefix("ray://").rpartition(":")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=CONNECT_TIMEOUT_S).close()
    except OSError as exc:
        raise ClusterError(
            f"sandbox.ray_address={address}: no Ray head answers there ({exc}). Start one with "
            "`ray start --head --port=6379` (docs/scale-out.md), or set "
            "sandbox.ray_address=local to try the Ray backend on this machine alone"
        ) from None


def _result_from(fields: dict[str, Any]) -> RunResult:
    return RunResult(
        solution=fields["solution"],
        outcome=Outcome(fields["outcome"]),
        detail=fields["detail"],
        stdout=fields["stdout"],
        stderr=fields["stderr"],
        runtime_s=fields["runtime_s"],
        exit_code=fields["exit_code"],
    )


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:300] if text else ''}"


class RaySandbox:
    """The ``Sandbox`` seam (sandbox/base.py) over a Ray cluster (see the module docstring)."""

    concurrency = CALLERS

    def __init__(self, task: Task, config: SandboxConfig) -> None:
        self.config = config
        self.default_timeout_s = float(config.timeout_s or task.timeout_s)
        self._spec = PoolSpec(self.default_timeout_s, tuple(task.heavy_modules),
                              task.evaluator_host)
        self._fields = config.model_dump()
        self._owns_ray = connect(config.ray_address)
        self._cond = threading.Condition()
        self._nodes: dict[str, _Node] = {}
        self._starting: set[str] = set()
        self._actor_failures: dict[str, int] = {}
        self._given_up: set[str] = set()
        self._resting: dict[str, float] = {}  # node id -> when it may get a new actor
        self._closed = False
        self.events: list[dict[str, Any]] = []  # node joins, losses and retries, in order
        # What Ray added to each recent candidate (driver wall time - node wall time), in s.
        self.overheads_s: collections.deque[float] = collections.deque(maxlen=4096)
        try:
            candidates = self._new_nodes()
            self._start_nodes(candidates, initial=True)
            if not self._nodes:
                raise ClusterError(
                    f"the Ray cluster at sandbox.ray_address={config.ray_address} has "
                    f"{len(candidates)} node(s) with CPUs and none could start an evaluation "
                    "actor (are their CPUs held by another run? see `ray status`); start "
                    "nodes with `ray start --address=HEAD:6379 --num-cpus=N` "
                    "(docs/scale-out.md)"
                )
        except BaseException:
            self.close()
            raise
        self._watcher = threading.Thread(
            target=self._watch, name="ray-nodes", daemon=True
        )
        self._watcher.start()

    # ---- the cluster ----------------------------------------------------------------------

    @property
    def slots(self) -> int:
        """Candidates that can run at once now (one per CPU of every node in use)."""
        with self._cond:
            return sum(node.slots for node in self._nodes.values())

    def nodes(self) -> dict[str, NodeInfo]:
        """The nodes in use now, by Ray node id (a snapshot: later changes do not show)."""
        with self._cond:
            return {
                node_id: NodeInfo(node.node_id, node.address, node.slots, node.actor,
                                  node.busy, node.runs, dict(node.info))
                for node_id, node in self._nodes.items()
            }

    def _new_nodes(self) -> list[dict[str, Any]]:
        """Live nodes with CPUs that have no actor of ours yet."""
        found = []
        for info in ray.nodes():
            node_id = info.get("NodeID", "")
            cpus = int(info.get("Resources", {}).get("CPU", 0))
            if not info.get("Alive") or cpus < 1:
                continue
            with self._cond:
                known = node_id in self._nodes or node_id in self._starting
                known = known or node_id in self._given_up
                # A node whose actor just died is often a node about to be declared dead.
                known = known or self._resting.get(node_id, 0.0) > time.monotonic()
                if not known:
                    self._starting.add(node_id)
            if not known:
                found.append(info)
        return found

    def _start_nodes(self, infos: list[dict[str, Any]], initial: bool = False) -> None:
        """Start an actor on each node and wait until its warm pool is up."""
        remote = _remote_eval_node()
        pending = []
        for info in infos:
            slots = int(info["Resources"]["CPU"])
            actor = remote.options(
                num_cpus=slots,
                max_concurrency=slots + 2,  # room beside the runs for ready/wait_idle
                max_restarts=0,  # a dead actor is replaced by the watcher, on a live node
                scheduling_strategy=NodeAffinitySchedulingStrategy(info["NodeID"], soft=False),
            ).remote(self._spec, self._fields, slots)
            node = _Node(info["NodeID"], info.get("NodeManagerAddress", "?"), slots, actor)
            pending.append((node, actor.ready.remote()))
        deadline = time.monotonic() + START_TIMEOUT_S  # one for all: they start side by side
        for node, ref in pending:
            try:
                ready = ray.get(ref, timeout=max(0.0, deadline - time.monotonic()))
            except RayError as exc:
                self._kill(node)
                with self._cond:
                    self._starting.discard(node.node_id)
                log.warning("ray backend: no evaluation actor on node %s: %s", node.name,
                            _short(exc))
                self._note_actor_failure(node)
                continue
            node.info = ready
            with self._cond:
                self._starting.discard(node.node_id)
                if self._closed:
                    self._kill(node)
                    continue
                self._nodes[node.node_id] = node
                self._cond.notify_all()
                total = sum(n.slots for n in self._nodes.values())
                self.events.append({"event": "node_joined", "node": node.node_id,
                                    "slots": node.slots, "slots_total": total})
            message = "ray backend: node %s evaluates with %d slots (bwrap %s); %d slots in all"
            args = (node.name, node.slots, "on" if ready.get("bwrap") else "off", total)
            (log.info if initial else log.warning)(message, *args)

    def _watch(self) -> None:
        """Follow the node table: drop nodes that left, start actors on nodes that joined."""
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._closed, timeout=POLL_S)
                if self._closed:
                    return
            try:
                alive = {info["NodeID"] for info in ray.nodes() if info.get("Alive")}
                with self._cond:
                    gone = [n for n in self._nodes.values() if n.node_id not in alive]
                for node in gone:
                    self._lose(node, "the node left the cluster")
                fresh = self._new_nodes()
                if fresh:
                    # Off the watcher thread: a slow start must not hide a departure.
                    threading.Thread(target=self._start_joined, args=(fresh,), daemon=True).start()
            except Exception as exc:  # noqa: BLE001 - the watcher must outlive a bad poll
                if not self._closed:
                    log.warning("ray backend: could not read the node table: %s", _short(exc))

    def _start_joined(self, infos: list[dict[str, Any]]) -> None:
        try:
            self._start_nodes(infos)
        except Exception as exc:  # noqa: BLE001 - a thread of its own: log, never die loudly
            with self._cond:
                for info in infos:
                    self._starting.discard(info["NodeID"])
            if not self._closed:
                log.warning("ray backend: could not start actors on new nodes: %s", _short(exc))

    def _lose(self, node: _Node, reason: str) -> None:
        """Stop using ``node``'s actor; candidates in flight there are sent elsewhere."""
        with self._cond:
            if self._nodes.get(node.node_id) is not node:
                return  # already dropped by another caller or the watcher
            del self._nodes[node.node_id]
            slots = sum(n.slots for n in self._nodes.values())
            count = len(self._nodes)
            self.events.append({"event": "node_lost", "node": node.node_id,
                                "reason": reason, "slots_total": slots})
            self._cond.notify_all()
        self._kill(node)
        self._note_actor_failure(node)
        log.warning("ray backend: lost node %s (%s); the run goes on with %d slots on %d "
                    "node(s)", node.name, reason, slots, count)

    def _note_actor_failure(self, node: _Node) -> None:
        # A node that is alive but keeps losing its actor is left alone, not retried forever.
        with self._cond:
            self._resting[node.node_id] = time.monotonic() + REST_S
            failures = self._actor_failures.get(node.node_id, 0) + 1
            self._actor_failures[node.node_id] = failures
            if failures >= MAX_ACTOR_FAILURES and node.node_id not in self._given_up:
                self._given_up.add(node.node_id)
                log.warning("ray backend: node %s lost %d actors; it is no longer used",
                            node.name, failures)

    @staticmethod
    def _kill(node: _Node) -> None:
        try:
            ray.kill(node.actor, no_restart=True)
        except Exception:  # noqa: BLE001 - the actor may be gone with its node
            pass

    # ---- slots ----------------------------------------------------------------------------

    def _acquire(self) -> _Node:
        """A node with a free slot, the least busy one; waits while all are taken."""
        deadline: float | None = None
        with self._cond:
            while True:
                if self._closed:
                    raise RuntimeError("the sandbox is closed")
                free = [n for n in self._nodes.values() if n.busy < n.slots]
                if free:
                    node = max(free, key=lambda n: n.slots - n.busy)
                    node.busy += 1
                    node.runs += 1
                    return node
                if self._nodes:
                    deadline = None
                else:
                    now = time.monotonic()
                    deadline = deadline or now + NO_NODE_WAIT_S
                    if now >= deadline:
                        raise ClusterError(
                            f"every node of the Ray cluster is gone and none joined within "
                            f"{NO_NODE_WAIT_S:g} s; the batch in progress was not committed. "
                            "Start nodes with `ray start --address=HEAD:6379` and resume the "
                            "run with `thetaevolve resume RUN_DIR`"
                        )
                self._cond.wait(timeout=POLL_S)

    def _release(self, node: _Node) -> None:
        with self._cond:
            node.busy -= 1
            self._cond.notify_all()

    # ---- the seam -------------------------------------------------------------------------

    def run(self, code: str, timeout_s: float | None = None) -> RunResult:
        """Run ``code``'s ``solve()`` on some node's sandbox; data or a typed failure.

        Raises ``ClusterError`` only when the cluster cannot run it at all; never for
        anything the candidate does.
        """
        if not isinstance(code, str):
            raise TypeError(f"code must be a str, got {type(code).__name__}")
        if timeout_s is not None and not (timeout_s > 0 and math.isfinite(timeout_s)):
            raise ValueError(f"timeout_s must be a positive number of seconds, got {timeout_s!r}")
        timeout = float(timeout_s) if timeout_s is not None else self.default_timeout_s
        size = len(code.encode("utf-8", errors="surrogatepass"))
        if size > MAX_CODE_BYTES:
            return RunResult(
                solution=None,
                outcome=Outcome.CRASH,
                detail=f"the program is {size} bytes; the limit is {MAX_CODE_BYTES}",
            )
        # The node's own deadline is timeout + 2 s + 10 % (runner._Worker.run).
        patience = timeout * 1.1 + 2.0 + REPLY_GRACE_S
        for attempt in range(1, MAX_ATTEMPTS + 1):
            node = self._acquire()
            started = time.perf_counter()  # after the wait for a slot: that is queueing
            try:
                fields = ray.get(node.actor.run.remote(code, timeout), timeout=patience)
                self.overheads_s.append(time.perf_counter() - started - fields["node_wall_s"])
            except GetTimeoutError:
                reason = f"no answer {patience:.0f} s after a {timeout:g} s candidate was sent"
            except RayError as exc:
                reason = _short(exc)
            else:
                return _result_from(fields)
            finally:
                self._release(node)
            self._lose(node, reason)
            with self._cond:
                self.events.append({"event": "retry", "node": node.node_id,
                                    "attempt": attempt, "reason": reason})
            if attempt < MAX_ATTEMPTS:
                log.warning("ray backend: a candidate was cut off on node %s; it is sent "
                            "again (attempt %d of %d)", node.name, attempt + 1, MAX_ATTEMPTS)
        raise ClusterError(
            f"a candidate was cut off by the loss of {MAX_ATTEMPTS} evaluation nodes or "
            f"actors in a row (last: {reason}); the batch in progress was not committed. "
            "Check the cluster (`ray status`) and resume the run with `thetaevolve resume RUN_DIR`"
        )

    def wait_idle(self) -> None:
        """Every node's workers have cleaned up after their last candidate (tests)."""
        with self._cond:
            nodes = list(self._nodes.values())
        ray.get([node.actor.wait_idle.remote() for node in nodes])

    def close(self) -> None:
        """Stop the node actors (each after its workers' cleanup) and leave the cluster."""
        with self._cond:
            if self._closed:
                return
            self._closed = True
            nodes = list(self._nodes.values())
            self._nodes.clear()
            self._cond.notify_all()
        refs = [node.actor.close.remote() for node in nodes]
        try:
            ray.get(refs, timeout=60)
        except Exception as exc:  # noqa: BLE001 - closing must finish; the actors are killed
            log.warning("ray backend: a node did not close cleanly: %s", _short(exc))
        for node in nodes:
            self._kill(node)
        if self._owns_ray:
            ray.shutdown()

    def __enter__(self) -> "RaySandbox":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
