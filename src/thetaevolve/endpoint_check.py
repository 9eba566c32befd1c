"""Fail fast on a model endpoint that cannot work: dead, unauthorised or wrongly addressed.

Without this, a run against a closed port, an HTTP 401 or a base URL missing ``/v1``
records one ``llm_error`` per candidate until the budget is spent, and exits 0 with the
server's message only in the store. Two guards:

- ``check_endpoint``: one short request before anything is created, ``GET {url}/models``
  (vLLM, SGLang, llama.cpp, Ollama and hosted APIs all serve it). A refused connection,
  an HTTP 401/403 or an answer that is not JSON (a web page: not an OpenAI-compatible API)
  stops the command at once; a 404 means the server has no model list,
  and the first calls decide instead; a slow answer or a 5xx is only a warning, since
  the run's calls have their own deadline and retries.
- ``EndpointGuard``: wraps the proposer and watches its calls. After
  ``llm.max_consecutive_failures`` calls in a row that failed for a reason no retry can
  fix (connection refused after retries, HTTP 401/403, HTTP 404), the run stops after
  the batch in flight is committed. Transient faults (429, 5xx, timeouts) neither count
  nor reset the run of failures; one successful call resets it.

Both end with ``EndpointUnusable`` (exit 1: the endpoint failed; the input was fine),
whose message names the URL, the HTTP status or connection error, the server's own text
and the variable the key is read from.
"""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.request
from typing import Any

from thetaevolve.config import LLMConfig
from thetaevolve.errors import UserError
from thetaevolve.proposers.base import Prompt, Proposer, Response

PREFLIGHT_TIMEOUT_S = 10.0
_FATAL_STATUSES = (401, 403, 404)


class EndpointUnusable(UserError):
    """The model endpoint cannot serve this run; printed as one line, exit code 1."""

    exit_code = 1

    def __init__(self, message: str, summary: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.summary = summary


def _key_hint(llm: LLMConfig) -> str:
    import os

    state = "set" if os.environ.get(llm.api_key_env, "").strip() else "not set"
    return f"the key is read from ${llm.api_key_env} (llm.api_key_env, {state} here)"


def _server_text(error: urllib.error.HTTPError) -> str:
    try:
        raw = error.read(4096).decode("utf-8", "replace")
    except OSError:
        return ""
    try:
        data = json.loads(raw)
        message = data.get("error", {}).get("message") if isinstance(data, dict) else None
        if isinstance(message, str) and message:
            return message
        if isinstance(data, dict) and isinstance(data.get("detail"), str):
            return data["detail"]
    except (ValueError, AttributeError):
        pass
    return " ".join(raw.split())[:300]


def check_endpoint(llm: LLMConfig, timeout_s: float = PREFLIGHT_TIMEOUT_S) -> list[str]:
    """Ask each replica for its model list; raise ``EndpointUnusable`` when one cannot work.

    Returns warnings (printed by the caller) for answers that do not stop the run.
    """
    from thetaevolve.proposers.openai_client import resolve_api_key, split_base_urls

    if llm.kind != "openai" or not llm.base_url:
        return []
    try:
        urls = split_base_urls(llm.base_url)
        key = resolve_api_key(llm.api_key_env, urls)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    warnings: list[str] = []
    timeout = min(timeout_s, llm.timeout_s)
    for url in urls:
        request = urllib.request.Request(
            f"{url}/models", headers={"Authorization": f"Bearer {key}", "Accept": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as answer:  # noqa: S310 - http(s) only
                body = answer.read(1 << 20)
        except urllib.error.HTTPError as exc:
            text = _server_text(exc)
            if exc.code in (401, 403):
                raise EndpointUnusable(
                    f"the model endpoint {url} refused the request: HTTP {exc.code}: {text or exc.reason}; "
                    f"{_key_hint(llm)}. Nothing was started."
                ) from None
            if exc.code != 404:  # 404: no model list here; the first calls decide
                warnings.append(f"{url}/models answered HTTP {exc.code} ({text or exc.reason}); going on")
            continue
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            if isinstance(reason, (socket.timeout, TimeoutError)):
                warnings.append(f"{url} did not answer within {timeout:g} s; going on "
                                "(every call has its own deadline and retries)")
                continue
            raise EndpointUnusable(
                f"cannot reach the model endpoint {url} (connection error: {reason}). Is the server "
                f"running, and is --base-url (llm.base_url) right? Also, {_key_hint(llm)}. "
                "Nothing was started."
            ) from None
        if not _is_json(body):
            # e.g. a web UI or another service on that port: every call would come back
            # "malformed" and be retried until the budget is spent.
            raise EndpointUnusable(
                f"{url}/models answered, but not with JSON ({_short_bytes(body)!r}): {url} does not "
                "look like an OpenAI-compatible API. Check --base-url (most servers serve under "
                f"/v1); {_key_hint(llm)}. Nothing was started."
            )
        models = _model_ids(body)
        if models and llm.model not in models:
            warnings.append(
                f"{url} does not list the model {llm.model!r} (it serves: {', '.join(models[:5])}); "
                "calls may fail with HTTP 404"
            )
    return warnings


def _is_json(body: bytes) -> bool:
    try:
        json.loads(body)
    except ValueError:
        return False
    return True


def _short_bytes(body: bytes, limit: int = 80) -> str:
    text = " ".join(body.decode("utf-8", "replace").split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _model_ids(body: bytes) -> list[str]:
    try:
        data = json.loads(body)
    except ValueError:
        return []
    entries = data.get("data") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        return []
    return [str(e["id"]) for e in entries if isinstance(e, dict) and "id" in e]


class EndpointGuard:
    """A ``Proposer`` wrapper that notices when every call fails for a reason retries cannot fix.

    ``tripped`` holds the message once ``limit`` such calls came in a row (0: never).
    """

    def __init__(self, inner: Proposer, llm: LLMConfig) -> None:
        self.inner = inner
        self.llm = llm
        self.limit = llm.max_consecutive_failures
        self.in_a_row = 0
        self.last_error = ""
        self.last_replica = ""
        self.tripped: str | None = None

    async def propose(self, prompts: list[Prompt], n: int) -> list[list[Response]]:
        groups = await self.inner.propose(prompts, n)
        for group in groups:
            for response in group:
                self._observe(response)
        return groups

    async def aclose(self) -> None:
        close = getattr(self.inner, "aclose", None)
        if close is not None:
            await close()

    def _observe(self, response: Response) -> None:
        stats = response.stats
        if not response.error:
            if stats.calls:
                self.in_a_row = 0
            return
        if not stats.call_failed:  # the 2nd..nth response of one failed call
            return
        kind, status = stats.failure, stats.status
        fatal = kind in ("connection", "auth") or (kind == "client_error" and status in _FATAL_STATUSES)
        if not fatal:
            return  # transient: retried already, and it does not show the endpoint is wrong
        self.in_a_row += 1
        self.last_error = response.error
        self.last_replica = stats.replica or self.llm.base_url or ""
        if self.limit and self.in_a_row >= self.limit and self.tripped is None:
            self.tripped = (
                f"stopped: {self.in_a_row} calls in a row to the model endpoint {self.last_replica} "
                f"failed ({self.last_error}). Check --base-url (most servers serve under /v1), "
                f"--model ({self.llm.model}) and the key: {_key_hint(self.llm)}"
            )
