"""A small OpenAI-compatible chat-completions server for tests and benchmarks.

No model: it answers from a reply function. It listens on 127.0.0.1 only, is bounded
(request body size, number of requests, connections, how long a "hang" lasts) and can be
told to misbehave, request by request:

    ok         a normal answer (n choices, or as ``n_mode`` says)
    delay      sleep ``delay_s``, then answer
    429        "rate limited" (with Retry-After: 0)
    500        an internal server error
    400        a bad request (not worth retrying)
    hang       accept the request and never answer (until the server stops)
    malformed  status 200 with a body that is not JSON
    cut        status 200, a Content-Length larger than what is sent, then the socket closes
    length     an answer whose choices stop at the token limit (finish_reason "length")

``n_mode`` imitates servers: ``native`` honours ``n`` (vLLM, SGLang), ``reject`` answers
400 to ``n`` > 1 (llama.cpp), ``ignore`` returns one choice whatever ``n`` is (Ollama).

Used in-process (``with FakeLLMServer(...) as server: server.base_url``), the server runs
its own event loop on a thread. ``python tests/fake_llm_server.py --n-mode native`` runs
it as a process (the benchmark does this, so that the server does not share the
client's interpreter) and prints ``PORT <number>`` once it listens.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import threading
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

BEHAVIOURS = ("ok", "delay", "429", "500", "400", "hang", "malformed", "cut", "length")
Script = Callable[[int, dict[str, Any]], str]
Reply = Callable[[int, int, dict[str, Any]], str]


def _default_reply(request_index: int, choice_index: int, body: dict[str, Any]) -> str:
    return f"reply {request_index}.{choice_index}"


class FakeLLMServer:
    def __init__(
        self,
        *,
        n_mode: str = "native",
        script: Iterable[str] | Script | None = None,
        reply: Reply = _default_reply,
        delay_s: float = 0.0,
        max_hang_s: float = 120.0,
        max_body_bytes: int = 1 << 20,
        max_requests: int = 1_000_000,
        max_connections: int = 1024,
        max_n: int = 64,
        port: int = 0,
    ) -> None:
        if n_mode not in ("native", "reject", "ignore"):
            raise ValueError(f"n_mode must be native, reject or ignore, got {n_mode!r}")
        self.n_mode = n_mode
        if script is None or callable(script):
            self._script: Script | None = script  # type: ignore[assignment]
            self._queue: list[str] = []
        else:
            self._script = None
            self._queue = list(script)
            bad = [b for b in self._queue if b not in BEHAVIOURS]
            if bad:
                raise ValueError(f"unknown behaviours {bad}; known: {BEHAVIOURS}")
        self.reply = reply
        self.delay_s = delay_s
        self.max_hang_s = max_hang_s
        self.max_body_bytes = max_body_bytes
        self.max_requests = max_requests
        self.max_connections = max_connections
        self.max_n = max_n
        self.requested_port = port
        self.port = 0
        self.requests = 0
        self.behaviours: Counter[str] = Counter()
        self.bodies: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._connections = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.AbstractServer | None = None
        self._thread: threading.Thread | None = None
        self._stopping: asyncio.Event | None = None
        self._ready = threading.Event()

    # ---- lifecycle -----------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> "FakeLLMServer":
        self._thread = threading.Thread(target=self._run_thread, name="fake-llm", daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("fake LLM server did not start within 10 s")
        return self

    def stop(self) -> None:
        if self._loop is not None and self._stopping is not None:
            self._loop.call_soon_threadsafe(self._stopping.set)
        if self._thread is not None:
            self._thread.join(10)

    def __enter__(self) -> "FakeLLMServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _run_thread(self) -> None:
        asyncio.run(self.serve())

    async def serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        self._server = await asyncio.start_server(
            self._handle, "127.0.0.1", self.requested_port, limit=self.max_body_bytes
        )
        self.port = self._server.sockets[0].getsockname()[1]
        self._ready.set()
        try:
            await self._stopping.wait()
        finally:
            self._server.close()
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    # ---- one connection ------------------------------------------------------------

    def _next_behaviour(self, index: int, body: dict[str, Any]) -> str:
        if self._script is not None:
            return self._script(index, body)
        with self._lock:
            return self._queue.pop(0) if self._queue else "ok"

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with self._lock:
            self._connections += 1
            too_many = self._connections > self.max_connections
        try:
            if too_many:
                await self._send(writer, 503, {"error": {"message": "too many connections"}})
                return
            while True:
                request = await self._read_request(reader)
                if request is None:
                    return
                method, path, body_bytes = request
                if not await self._answer(writer, method, path, body_bytes):
                    return
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            return
        except asyncio.CancelledError:
            return  # the server is stopping; a hung request ends here
        finally:
            with self._lock:
                self._connections -= 1
            writer.close()

    async def _read_request(
        self, reader: asyncio.StreamReader
    ) -> tuple[str, str, bytes] | None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            return None
        lines = head.decode("latin-1").split("\r\n")
        method, path, _ = (lines[0].split(" ", 2) + ["", ""])[:3]
        length = 0
        for line in lines[1:]:
            name, _, value = line.partition(":")
            if name.strip().lower() == "content-length":
                length = int(value.strip() or 0)
        if length > self.max_body_bytes:
            return None
        body = await reader.readexactly(length) if length else b""
        return method, path, body

    async def _answer(self, writer: asyncio.StreamWriter, method: str, path: str, raw: bytes) -> bool:
        """Answer one request; False closes the connection."""
        if method != "POST" or not path.rstrip("/").endswith("/chat/completions"):
            await self._send(writer, 404, {"error": {"message": f"no route {method} {path}"}})
            return True
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            await self._send(writer, 400, {"error": {"message": "request body is not JSON"}})
            return True
        with self._lock:
            index = self.requests
            self.requests += 1
            over = index >= self.max_requests
            if not over and len(self.bodies) < 10_000:
                self.bodies.append(body)
        if over:
            await self._send(writer, 503, {"error": {"message": "request budget exhausted"}})
            return False
        behaviour = self._next_behaviour(index, body)
        with self._lock:
            self.behaviours[behaviour] += 1
        n = int(body.get("n") or 1)
        if behaviour == "delay":
            await asyncio.sleep(self.delay_s)
        if behaviour == "hang":
            await asyncio.sleep(self.max_hang_s)
            return False
        if behaviour == "429":
            await self._send(writer, 429, {"error": {"message": "rate limited"}}, {"Retry-After": "0"})
            return True
        if behaviour in ("500", "400"):
            await self._send(writer, int(behaviour), {"error": {"message": f"fake {behaviour}"}})
            return True
        if behaviour == "malformed":
            await self._send_raw(writer, 200, b'{"id": "x", "choices": [ {"mess')
            return True
        if behaviour == "cut":
            payload = json.dumps(self._completion(index, body, 1, "stop")).encode()
            head = (
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(payload)}\r\n\r\n"
            ).encode()
            writer.write(head + payload[: len(payload) // 2])
            await writer.drain()
            return False
        if n > 1 and self.n_mode == "reject":
            await self._send(
                writer, 400, {"error": {"message": "Only one completion choice is allowed"}}
            )
            return True
        if n < 1 or n > self.max_n:
            await self._send(writer, 400, {"error": {"message": f"n must be in 1..{self.max_n}"}})
            return True
        choices = 1 if self.n_mode == "ignore" else n
        finish = "length" if behaviour == "length" else "stop"
        await self._send(writer, 200, self._completion(index, body, choices, finish))
        return True

    def _completion(self, index: int, body: dict[str, Any], n: int, finish: str) -> dict[str, Any]:
        texts = [self.reply(index, i, body) for i in range(n)]
        if finish == "length":
            texts = [t[: max(1, len(t) // 2)] for t in texts]
        prompt_chars = sum(len(str(m.get("content", ""))) for m in body.get("messages", []))
        completion_tokens = sum(len(t) // 4 + 1 for t in texts)
        return {
            "id": f"fake-{index}",
            "object": "chat.completion",
            "created": 0,
            "model": str(body.get("model", "fake")),
            "choices": [
                {
                    "index": i,
                    "message": {"role": "assistant", "content": text},
                    "finish_reason": finish,
                }
                for i, text in enumerate(texts)
            ],
            "usage": {
                "prompt_tokens": prompt_chars // 4 + 1,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_chars // 4 + 1 + completion_tokens,
            },
        }

    async def _send(
        self,
        writer: asyncio.StreamWriter,
        status: int,
        payload: dict[str, Any],
        headers: dict[str, str] | None = None,
    ) -> None:
        await self._send_raw(writer, status, json.dumps(payload).encode(), headers)

    async def _send_raw(
        self,
        writer: asyncio.StreamWriter,
        status: int,
        data: bytes,
        headers: dict[str, str] | None = None,
    ) -> None:
        extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
        head = (
            f"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(data)}\r\n{extra}\r\n"
        ).encode()
        writer.write(head + data)
        await writer.drain()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n-mode", default="native", choices=["native", "reject", "ignore"])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--reply-chars", type=int, default=400)
    args = parser.parse_args()
    text = ("x = 1\n" * (args.reply_chars // 6 + 1))[: args.reply_chars]
    server = FakeLLMServer(n_mode=args.n_mode, port=args.port, reply=lambda i, j, b: text)

    async def run() -> None:
        task = asyncio.create_task(server.serve())
        while not server._ready.is_set():
            await asyncio.sleep(0.01)
        print(f"PORT {server.port}", flush=True)
        await task

    try:
        asyncio.run(run())
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
