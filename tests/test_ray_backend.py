"""The Ray backend (sandbox.backend=ray) on a real local Ray cluster started here: a head and
one more node process, two CPUs each, started once for the module (Ray takes seconds).

What must hold: a run commits the same programs as on the local backend; a node killed
mid-run loses no candidate and fails none; a node that joins is used; the hostile programs
of the sandbox tests are contained on Ray workers as they are locally.
"""

from __future__ import annotations

import asyncio
import json
import os
import select
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

ray = pytest.importorskip("ray", reason="the ray extra is not installed (make setup-test does)")
from ray.cluster_utils import Cluster  # noqa: E402

from thetaevolve.testing import TinyTask  # noqa: E402
from thetaevolve.config import load_config  # noqa: E402
from thetaevolve.database.store import ProgramDatabase  # noqa: E402
from thetaevolve.gym import Gym  # noqa: E402
from thetaevolve.prompts import PromptBuilder  # noqa: E402
from thetaevolve.proposers import make_proposer  # noqa: E402
from thetaevolve.sandbox import make_sandbox  # noqa: E402
from thetaevolve.types import Outcome  # noqa: E402

pytestmark = pytest.mark.slow

NODE = {"num_cpus": 2, "object_store_memory": 100 << 20}
SECRET = "THETAEVOLVE_TEST_SECRET"
PROGRAMS = Path(__file__).parent / "adversarial"
BENIGN = "def solve():\n    return {'fine': True}\n"
RUN_S = 0.3  # each candidate of the evolution runs this long, so that a kill finds some in flight


class SlowTinyTask(TinyTask):
    """TinyTask whose candidates take RUN_S (outside the evolved block: never mutated)."""

    @property
    def initial_program(self) -> str:
        return super().initial_program.replace(
            "def solve():\n", f"def solve():\n    import time\n    time.sleep({RUN_S})\n"
        )


@pytest.fixture(scope="module")
def cluster():
    # Set before any node starts, as an API key in the environment would be: the candidates
    # must not see it, although every Ray worker inherits it.
    os.environ[SECRET] = "hunter2"
    started = Cluster(
        initialize_head=True, head_node_args={**NODE, "include_dashboard": False}
    )
    try:
        started.add_node(**NODE)
        started.wait_for_nodes()
        ray.init(address=started.address, include_dashboard=False, logging_level="WARNING")
        yield started
    finally:
        ray.shutdown()
        started.shutdown()
        os.environ.pop(SECRET, None)


def _config(cluster, *sets):
    """The run both backends share; ``cluster`` set: on the Ray backend, on that cluster."""
    ray_sets = ["sandbox.backend=ray", f"sandbox.ray_address={cluster.address}"] if cluster else []
    return load_config(overrides=[
        "task=tiny", "seed=7", "gym.batch_size=4", "gym.samples_per_prompt=2",
        "sandbox.workers=2", *ray_sets, *sets,
    ])


def _evolve(config, path, budget, sandbox=None, during=None):
    """Run the gym with the offline proposer until ``budget``; the store's programs."""
    task = SlowTinyTask()
    database = ProgramDatabase.open(path, config.database)
    own = sandbox is None
    sandbox = sandbox or make_sandbox(task, config.sandbox)
    gym = Gym(task, config, database, sandbox, PromptBuilder(task, config.prompt))
    proposer = make_proposer(config)

    async def loop():
        await gym.initialize()
        while gym.evaluations < budget:
            await gym.step(proposer, max_children=budget - gym.evaluations)

    try:
        if during is not None:
            during(sandbox)
        asyncio.run(loop())
        return sorted(
            (r.iteration, r.code_hash, r.outcome.value, r.score, r.parent_id is None)
            for r in database.iter_programs(include_copies=False)
        )
    finally:
        gym.close()
        if own:
            sandbox.close()
        database.close()


BUDGET = 24


@pytest.fixture(scope="module")
def local_programs(tmp_path_factory):
    config = _config(None)
    return _evolve(config, tmp_path_factory.mktemp("local") / "store.sqlite", BUDGET)


def test_ray_is_imported_only_when_the_backend_is_chosen():
    probe = (
        "import sys\n"
        "from thetaevolve import cli, session, gym, evolve\n"
        "from thetaevolve.sandbox import make_sandbox\n"
        "from thetaevolve.config import SandboxConfig\n"
        "from thetaevolve.testing import TinyTask\n"
        "with make_sandbox(TinyTask(), SandboxConfig(workers=1)) as sb:\n"
        "    assert sb.run(\"def solve():\\n    return {'x': 1}\\n\").solution == {'x': 1}\n"
        "print('ray' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         cwd=Path(__file__).parent.parent, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


def test_without_ray_the_backend_is_a_clear_error():
    probe = (
        "import sys\n"
        "sys.modules['ray'] = None  # as if the ray extra were not installed\n"
        "from thetaevolve.testing import TinyTask\n"
        "from thetaevolve.config import SandboxConfig\n"
        "from thetaevolve.errors import UserError\n"
        "from thetaevolve.sandbox import make_sandbox\n"
        "try:\n"
        "    make_sandbox(TinyTask(), SandboxConfig(backend='ray'))\n"
        "except UserError as exc:\n"
        "    print(exc)\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         cwd=Path(__file__).parent.parent, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "sandbox.backend=ray needs Ray" in out.stdout
    assert "pip install 'thetaevolve[ray]'" in out.stdout


def test_a_ray_run_commits_the_same_programs_as_a_local_run(cluster, local_programs, tmp_path):
    config = _config(cluster)
    assert len(local_programs) == BUDGET + 1
    assert any(row[2] == "ok" and not row[4] for row in local_programs)  # it did evolve
    assert _evolve(config, tmp_path / "store.sqlite", BUDGET) == local_programs


def test_killing_a_node_mid_run_loses_and_fails_no_candidate(cluster, local_programs, tmp_path):
    config = _config(cluster)
    victim = cluster.list_all_nodes()[-1]
    assert victim is not cluster.head_node
    killed = threading.Event()

    def kill_when_busy(sandbox):
        def watch():
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                node = sandbox.nodes().get(victim.node_id)
                if node is not None and node.busy >= 1 and node.runs >= 3:
                    cluster.remove_node(victim, allow_graceful=False)
                    killed.set()
                    return
                time.sleep(0.02)

        threading.Thread(target=watch, daemon=True).start()

    sandbox = make_sandbox(SlowTinyTask(), config.sandbox)
    try:
        programs = _evolve(config, tmp_path / "store.sqlite", BUDGET, sandbox, kill_when_busy)
        assert killed.is_set(), "the node was never killed while busy"
        events = [e["event"] for e in sandbox.events if e.get("node") == victim.node_id]
        assert "node_lost" in events and "retry" in events, sandbox.events
        # Every candidate committed, none failed because of the kill: the very same store.
        assert programs == local_programs

        # A node that joins is used.
        joined = cluster.add_node(**NODE)
        deadline = time.monotonic() + 120
        while joined.node_id not in sandbox.nodes() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert joined.node_id in sandbox.nodes(), sandbox.events
        # Three candidates per slot at once: all slots fill, none takes a second one.
        slow = SlowTinyTask().initial_program
        in_flight, done = [], threading.Event()

        def sample():
            while not done.is_set():
                in_flight.append(sum(n.busy for n in sandbox.nodes().values()))
                time.sleep(0.01)

        sampler = threading.Thread(target=sample)
        sampler.start()
        try:
            results = _map(sandbox, [slow] * (3 * sandbox.slots))
        finally:
            done.set()
            sampler.join()
        assert all(r.outcome is Outcome.OK for r in results)
        assert max(in_flight) == sandbox.slots == 4, in_flight
        assert sandbox.nodes()[joined.node_id].runs > 0
    finally:
        sandbox.close()


def test_a_killed_actor_is_replaced_and_its_candidate_retried(cluster, monkeypatch):
    from thetaevolve.sandbox import ray_backend

    monkeypatch.setattr(ray_backend, "REST_S", 0.5)
    with make_sandbox(TinyTask(), _config(cluster).sandbox) as sandbox:
        before = {node_id: node.actor for node_id, node in sandbox.nodes().items()}
        for actor in before.values():  # every actor dies; the nodes stay
            _kill_and_wait(actor)
        result = sandbox.run(TinyTask().initial_program)
        assert result.outcome is Outcome.OK and result.solution == {"x": 0.5}, result
        retries = [e for e in sandbox.events if e["event"] == "retry"]
        assert 1 <= len(retries) <= ray_backend.MAX_ATTEMPTS - 1
        # The nodes got new actors and serve again.
        deadline = time.monotonic() + 60
        while len(sandbox.nodes()) < len(before) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert set(sandbox.nodes()) == set(before)
        assert all(sandbox.nodes()[i].actor is not before[i] for i in before)


def test_an_openevolve_folders_evaluator_runs_on_the_ray_nodes(cluster):
    """The node's sandbox gets the evaluator host through the pool spec: the folder's
    evaluator is preloaded there and scores the candidate as on the local backend."""
    from thetaevolve.evaluation import evaluate_run
    from thetaevolve.problems.openevolve import load_openevolve_problem

    task = load_openevolve_problem(Path(__file__).parent / "fixtures/openevolve/dict_metrics")
    with make_sandbox(task, _config(cluster).sandbox) as sandbox:
        evaluation = evaluate_run(task, sandbox.run(task.initial_program))
    assert evaluation.outcome is Outcome.OK, evaluation.detail
    assert evaluation.score == pytest.approx((7.5 + 3.5 + 3) / 3)


def test_a_candidate_whose_every_send_is_cut_off_stops_the_run_unscored(cluster, monkeypatch):
    from thetaevolve.sandbox import ray_backend

    monkeypatch.setattr(ray_backend, "MAX_ATTEMPTS", 1)
    with make_sandbox(TinyTask(), _config(cluster).sandbox) as sandbox:
        for node in sandbox.nodes().values():
            _kill_and_wait(node.actor)
        with pytest.raises(ray_backend.ClusterError, match="not committed"):
            sandbox.run(TinyTask().initial_program)


def _kill_and_wait(actor):
    """ray.kill only asks: calls already on their way may still be answered."""
    ray.kill(actor, no_restart=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            ray.get(actor.ready.remote(), timeout=60)
        except ray.exceptions.RayActorError:
            return
        time.sleep(0.05)
    raise AssertionError("the killed actor still answers")


def _map(sandbox, codes):
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(len(codes)) as pool:
        return list(pool.map(sandbox.run, codes))


# ---- the hostile programs, on Ray workers --------------------------------------------------


def _program(name, **subs):
    text = (PROGRAMS / f"{name}.py").read_text()
    for key, value in subs.items():
        text = text.replace(f"__{key}__", str(value))
    return text


@pytest.fixture(scope="module")
def hostile_sandbox(cluster):
    config = _config(
        cluster, "sandbox.memory_mb=1024", "sandbox.max_output_bytes=65536",
        "sandbox.max_solution_bytes=1048576", "sandbox.max_file_bytes=8388608",
        "sandbox.max_processes=32",
    )
    with make_sandbox(TinyTask(), config.sandbox) as sandbox:
        yield sandbox


AS_ROOT = os.geteuid() == 0
HOSTILE = [
    ("infinite_loop", 1.5, {Outcome.TIMEOUT}),
    ("sleep_forever", 1.5, {Outcome.TIMEOUT}),
    ("fork_bomb", 1.5, {Outcome.TIMEOUT, Outcome.CRASH, Outcome.MEMORY}),
    ("memory_bomb", 20, {Outcome.MEMORY}),
    ("stdout_flood", 1.5, {Outcome.CRASH}),
    ("segfault", 1.5, {Outcome.CRASH}),
    ("huge_file", 1.5, {Outcome.CRASH}),
    ("returns_huge_list", 5, {Outcome.MALFORMED_OUTPUT}),
    ("fake_result_record", 1.5, {Outcome.MALFORMED_OUTPUT}),
    ("grandchild_holds_pipes", 1.5, {Outcome.CRASH}),
]


@pytest.mark.parametrize("name,deadline,expected", HOSTILE, ids=[h[0] for h in HOSTILE])
def test_hostile_programs_are_contained_on_ray_workers(hostile_sandbox, name, deadline, expected):
    started = time.monotonic()
    result = hostile_sandbox.run(_program(name), timeout_s=deadline)
    assert result.outcome in expected, result
    assert time.monotonic() - started < deadline + 10, result
    _assert_nodes_unharmed(hostile_sandbox)


@pytest.mark.skipif(not AS_ROOT, reason="as an ordinary user the candidate shares our uid")
def test_killing_the_parent_or_the_driver_fails_on_ray_workers(hostile_sandbox):
    result = hostile_sandbox.run(_program("kill_parent", HOST_PID=os.getpid()), timeout_s=5)
    assert result.outcome is Outcome.CRASH and "Error" in result.detail, result
    _assert_nodes_unharmed(hostile_sandbox)


def test_the_environment_of_ray_workers_is_out_of_reach(hostile_sandbox):
    if not (hostile_sandbox_uses_own_uid(hostile_sandbox)):
        pytest.skip("started as an ordinary user without bwrap, candidates share our uid")

    @ray.remote(num_cpus=0)
    def worker_environment():
        return os.environ.get(SECRET)

    # The secret really is in every Ray worker's environment (or this test proves nothing).
    assert ray.get(worker_environment.remote()) == "hunter2"
    result = hostile_sandbox.run(_program("read_secret"), timeout_s=5)
    assert result.outcome is Outcome.CRASH and "no secret found" in result.detail, result
    assert "hunter2" not in result.stdout + result.stderr
    _assert_nodes_unharmed(hostile_sandbox)


def test_an_escaped_daemon_does_not_outlive_its_run_on_ray_workers(hostile_sandbox):
    result = hostile_sandbox.run(_program("escaped_daemon"), timeout_s=1.5)
    assert result.outcome is Outcome.OK, result
    _assert_nodes_unharmed(hostile_sandbox)  # no process of a candidate uid is left


def test_no_network_from_ray_workers(hostile_sandbox):
    if not all(node.info.get("bwrap") for node in hostile_sandbox.nodes().values()):
        pytest.skip("without bwrap the network namespace depends on the host's rights")
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(4)
        port = listener.getsockname()[1]
        result = hostile_sandbox.run(_program("network_connect", PORT=port), timeout_s=5)
        pending, _, _ = select.select([listener], [], [], 0.2)
    assert result.outcome is Outcome.CRASH, result
    assert pending == [], "the listening socket saw a connection"
    _assert_nodes_unharmed(hostile_sandbox)


def hostile_sandbox_uses_own_uid(sandbox) -> bool:
    return AS_ROOT or all(node.info.get("bwrap") for node in sandbox.nodes().values())


def _assert_nodes_unharmed(sandbox):
    """Both node actors still serve, nothing was lost, no candidate process outlived its run."""
    after = _map(sandbox, [BENIGN] * sandbox.slots)
    assert all(r.outcome is Outcome.OK and r.solution == {"fine": True} for r in after), after
    assert [e for e in sandbox.events if e["event"] != "node_joined"] == []
    assert len(sandbox.nodes()) == 2
    sandbox.wait_idle()
    uids = {uid for node in sandbox.nodes().values() for uid in node.info["uids"] if uid}
    assert uids or not AS_ROOT
    survivors = [pid for pid in _pids() if _real_uid(pid) in uids]
    assert survivors == [], survivors


def _pids():
    return [int(entry) for entry in os.listdir("/proc") if entry.isdigit()]


def _real_uid(pid):
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    return int(status.split("\nUid:", 1)[1].split()[0])


# ---- through the CLI, in fresh processes (this one is already a Ray driver) ---------------


def _cli(tmp_path, *sets):
    command = [sys.executable, "-m", "thetaevolve.cli", "run", "circle_packing_26",
               "--budget", "8", "--batch-size", "4", "--samples-per-prompt", "2", "--quiet",
               "--run-dir", str(tmp_path / "run"), "--set", "sandbox.backend=ray",
               "--set", "sandbox.workers=2"]
    for item in sets:
        command += ["--set", item]
    return subprocess.run(command, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "RAY_ADDRESS": ""})


def test_cli_run_on_an_in_process_ray_cluster(tmp_path):
    out = _cli(tmp_path, "sandbox.ray_address=local")
    assert out.returncode == 0, out.stderr[-3000:]
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["evaluations"] == 8 and summary["best_valid"] is True
    events = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").open()]
    joined = [e for e in events if e["event"] == "sandbox_node_joined"]
    assert len(joined) == 1 and joined[0]["slots"] >= 1, events


def test_cli_names_an_unreachable_head_in_one_line(tmp_path):
    out = _cli(tmp_path, "sandbox.ray_address=127.0.0.1:9")
    assert out.returncode == 2, out.stderr[-3000:]
    assert "thetaevolve: error: sandbox.ray_address=127.0.0.1:9: no Ray head answers" in out.stderr
    assert "Traceback" not in out.stderr
