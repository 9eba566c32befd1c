"""Checks that run before a run directory is created, so that a refused start leaves
nothing behind and the same ``--run-dir`` can be used again at once.

The task, the sandbox mode and the prompt templates are checked by ``Session.create``
before it creates anything; this module adds what a run needs beyond the session: the
optional extra of the chosen proposer, and a reachable, authorised model endpoint.
"""

from __future__ import annotations

import importlib.util
import sys

from thetaevolve.config import RunConfig
from thetaevolve.endpoint_check import check_endpoint
from thetaevolve.errors import UserError

# llm.kind -> (module it imports, extra that installs it, what else it needs)
_EXTRA_FOR_KIND = {
    "vllm": ("vllm", "vllm", " (and a GPU)"),
}


def check_extras(config: RunConfig) -> None:
    need = _EXTRA_FOR_KIND.get(config.llm.kind)
    if need is None:
        return
    module, extra, more = need
    if importlib.util.find_spec(module) is None:
        raise UserError(
            f"llm.kind={config.llm.kind} needs the {extra} extra: "
            f"pip install 'thetaevolve[{extra}]'{more}; nothing was created"
        )


def check_before_run(config: RunConfig) -> None:
    """Raise a UserError (or EndpointUnusable, exit 1) for a run that cannot work."""
    check_extras(config)
    for warning in check_endpoint(config.llm):
        print(f"thetaevolve: warning: {warning}", file=sys.stderr)
