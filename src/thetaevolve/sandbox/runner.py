"""Placeholder: the sandbox implementation lands here (issue 4)."""
