"""ThetaEvolve: evolve programs with one LLM to improve bounds on open problems."""

__version__ = "0.1.0"
