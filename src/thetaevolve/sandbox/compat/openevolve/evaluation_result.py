"""``EvaluationResult``: what an OpenEvolve evaluator may return instead of a plain dict.

Our own implementation of OpenEvolve's published interface: ``metrics`` (name -> value; the
numeric ones make up the score) and ``artifacts`` (name -> text or bytes, feedback for the next
prompt).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, Union


@dataclass
class EvaluationResult:
    metrics: Dict[str, Any]
    artifacts: Dict[str, Union[str, bytes]] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, metrics: Dict[str, Any]) -> "EvaluationResult":
        return cls(metrics=dict(metrics))

    def to_dict(self) -> Dict[str, Any]:
        return self.metrics

    def has_artifacts(self) -> bool:
        return bool(self.artifacts)

    def get_artifact_keys(self) -> list:
        return list(self.artifacts)

    def get_artifact_size(self, key: str) -> int:
        value = self.artifacts.get(key)
        if value is None:
            return 0
        if isinstance(value, bytes):
            return len(value)
        return len(str(value).encode("utf-8"))

    def get_total_artifact_size(self) -> int:
        return sum(self.get_artifact_size(key) for key in self.artifacts)
