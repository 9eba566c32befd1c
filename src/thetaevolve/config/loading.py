"""Building a ``RunConfig``: defaults, then a YAML file (or a shipped preset), then ``--set``.

Every validation problem becomes one ``ConfigError`` whose message lists the bad fields
by their dotted path; a key that moved to another section says where it lives now.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from thetaevolve.atomic import write_text_atomic
from thetaevolve.config.error import ConfigError
from thetaevolve.config.tree import RunConfig

PRESET_DIR = Path(__file__).resolve().parent.parent / "configs"

# Keys that moved: the old dotted path and where the setting lives now.
MOVED_KEYS: dict[str, str] = {
    "llm.mutation_scale": "llm.offline.mutation_scale",
    "llm.crossover_rate": "llm.offline.crossover_rate",
    "database.num_inspirations": "llm.offline.crossover_donors",
}


def _format_validation_error(err: ValidationError, origin: str) -> str:
    lines = [f"invalid configuration ({origin}):"]
    for item in err.errors():
        path = ".".join(str(p) for p in item["loc"]) or "<root>"
        message = item["msg"]
        if item["type"] == "extra_forbidden" and path in MOVED_KEYS:
            message = f"this setting moved to {MOVED_KEYS[path]}; use that key instead"
        elif item["type"] == "extra_forbidden":
            message = "unknown key (check its spelling; see `thetaevolve run --help`)"
        elif message.startswith("Value error, "):
            message = message[len("Value error, ") :]
        lines.append(f"  {path}: {message}")
    return "\n".join(lines)


def parse_override(text: str) -> tuple[list[str], Any]:
    """Parse ``a.b.c=value``; the value is read as YAML (so 4 is an int, [a, b] a list)."""
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ConfigError(f"--set expects KEY=VALUE (e.g. database.num_islands=4), got {text!r}")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError as exc:
        raise ConfigError(f"--set {key}: the value {raw!r} is not valid YAML ({exc})") from exc
    return key.split("."), value


def flag_overrides(pairs: list[tuple[str, Any]]) -> list[str]:
    """``key=value`` overrides for the CLI flags that were given (None means not given).

    Strings are JSON-quoted so that YAML reads them back as strings (a model named
    ``1e-3`` or ``null`` stays a string).
    """
    return [
        f"{key}={json.dumps(value) if isinstance(value, str) else value}"
        for key, value in pairs
        if value is not None
    ]


def _apply_override(tree: dict[str, Any], path: list[str], value: Any) -> None:
    node = tree
    for part in path[:-1]:
        child = node.get(part)
        if child is None:
            child = node[part] = {}
        if not isinstance(child, dict):
            raise ConfigError(f"--set {'.'.join(path)}: {part!r} is a value, not a section")
        node = child
    node[path[-1]] = value


def load_config(path: str | Path | None = None, overrides: list[str] | None = None) -> RunConfig:
    """Build a RunConfig from an optional YAML file (or preset name) and ``k=v`` overrides.

    Precedence, lowest first: defaults, the YAML file, the overrides. A YAML section
    merges key by key over the defaults, every section alike.
    """
    tree: dict[str, Any] = {}
    origin = "defaults"
    if path is not None:
        file = preset_or_path(path)
        origin = str(file)
        merge_into(tree, _read_yaml(file))
    return _validate(tree, origin, overrides)


def load_run_config(path: Path, overrides: list[str] | None = None) -> RunConfig:
    """A run directory's own ``config.yaml``, as ``load_config`` reads a file, except that
    keys which moved since an earlier version wrote it (``MOVED_KEYS``) are carried to
    their new place: a run made before the move still resumes, shows and compares.

    A hand-written config keeps getting the "moved to" error instead, so that a user's own
    file is fixed once rather than read two ways."""
    return _validate(_moved_keys_carried(_read_yaml(path)), str(path), overrides)


def _moved_keys_carried(mapping: dict[str, Any]) -> dict[str, Any]:
    tree: dict[str, Any] = {}
    for key, value in _flatten(mapping):
        dotted = ".".join(key)
        if dotted in MOVED_KEYS:
            key = MOVED_KEYS[dotted].split(".")
        _apply_override(tree, key, value)
    return tree


def _validate(tree: dict[str, Any], origin: str, overrides: list[str] | None) -> RunConfig:
    for text in overrides or []:
        key, value = parse_override(text)
        _apply_override(tree, key, value)
        origin = f"{origin} + --set" if "--set" not in origin else origin
    try:
        return RunConfig.model_validate(tree)
    except ValidationError as err:
        raise ConfigError(_format_validation_error(err, origin)) from None


def _read_yaml(path: Path) -> dict[str, Any]:
    """The mapping a config file holds; an empty file is an empty mapping."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(
            f"cannot read config file {path}: {exc.strerror} (a file path, or one of the "
            f"presets: {', '.join(preset_names())})"
        ) from exc
    try:
        loaded = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {path} is not valid YAML: {exc}") from exc
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise ConfigError(f"config file {path} must hold a mapping at the top level")
    return loaded


def preset_names() -> list[str]:
    """The configuration presets shipped with the package (``--config NAME``)."""
    return sorted(p.stem for p in PRESET_DIR.glob("*.yaml"))


def preset_or_path(path: str | Path) -> Path:
    """``--config`` takes a file, or the name of a shipped preset (e.g. ``qwen3-8b``);
    an existing file of that name wins."""
    candidate = Path(path)
    preset = PRESET_DIR / f"{path}.yaml"
    if not candidate.exists() and candidate.name == str(path) and preset.is_file():
        return preset
    return candidate


def merge_into(tree: dict[str, Any], mapping: dict[str, Any]) -> None:
    """Merge a nested mapping (a YAML file's) into ``tree`` key by key: a section that
    ``mapping`` gives changes only the keys it names, every section alike (``rl`` too)."""
    for key, value in _flatten(mapping):
        _apply_override(tree, key, value)


def _flatten(tree: dict[str, Any], prefix: tuple[str, ...] = ()) -> list[tuple[list[str], Any]]:
    """Leaf paths of a nested mapping, so a YAML section merges key by key over the base."""
    out: list[tuple[list[str], Any]] = []
    for key, value in tree.items():
        path = (*prefix, str(key))
        if isinstance(value, dict) and value:
            out.extend(_flatten(value, path))
        else:
            out.append((list(path), value))
    return out


def dump_config(config: RunConfig, path: Path) -> None:
    """Write the resolved config as YAML (it holds no secrets: keys live in the environment).

    Written to a side file and renamed, so a crash leaves the old file or the new one."""
    write_text_atomic(path, yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False))
