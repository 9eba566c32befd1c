"""A real OpenAI-compatible server for tests: started as a process, stopped with its group.

``transformers serve`` (Transformers' own server; FastAPI + Uvicorn) or, where it is
installed, llama-cpp-python's ``python -m llama_cpp.server``. Both listen on 127.0.0.1 at a
free port; ``start`` waits for them to answer, with a bounded loop.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ServedModel:
    """``with ServedModel(command, health_path) as server: server.base_url``."""

    def __init__(self, command: list[str], port: int, health_path: str, model: str,
                 log: Path, startup_s: float = 300.0) -> None:
        self.command = command
        self.port = port
        self.health_path = health_path
        self.model = model  # the name requests must carry
        self.log = log
        self.startup_s = startup_s
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def __enter__(self) -> "ServedModel":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
        with open(self.log, "wb") as out:
            self.process = subprocess.Popen(
                self.command, stdout=out, stderr=subprocess.STDOUT, env=env,
                start_new_session=True,  # its own group, so stop() reaches its children
            )
        deadline = time.monotonic() + self.startup_s
        url = f"http://127.0.0.1:{self.port}{self.health_path}"
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited with {self.process.returncode}: {self.tail()}")
            try:
                with urllib.request.urlopen(url, timeout=5) as reply:
                    if reply.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
                pass
            time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"the server did not answer within {self.startup_s:g} s: {self.tail()}")

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=15)
        except ProcessLookupError:
            pass

    def tail(self, chars: int = 2000) -> str:
        try:
            return self.log.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def chat(self, body: dict) -> dict:
        """One raw request (for checks that bypass the proposer)."""
        request = urllib.request.Request(
            f"{self.base_url}/chat/completions", data=json.dumps(body).encode(),
            headers={"content-type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=300) as reply:
            return json.loads(reply.read())


def transformers_server(folder: Path, log: Path) -> ServedModel:
    port = free_port()
    executable = Path(sys.executable).with_name("transformers")
    # The console script beside this interpreter, else the module it runs.
    cli = [str(executable)] if executable.exists() else [
        sys.executable, "-c", "import sys; from transformers.cli.transformers import main; "
        "sys.argv[0] = 'transformers'; sys.exit(main())"]
    command = [*cli, "serve", str(folder), "--host", "127.0.0.1", "--port", str(port),
               "--device", "cpu", "--log-level", "warning"]
    # The server is pinned to the folder it loaded, and requests must name it so.
    return ServedModel(command, port, "/health", str(folder), log)


def llama_cpp_server(gguf: Path, log: Path) -> ServedModel:
    port = free_port()
    command = [sys.executable, "-m", "llama_cpp.server", "--model", str(gguf),
               "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "4096",
               "--model_alias", "smollm2-135m"]
    return ServedModel(command, port, "/v1/models", "smollm2-135m", log)
