"""Model files and tokenizers shared by every model-backed path (proposers and RL).

- ``bundled``: model names that ThetaEvolve knows without a download (``smollm2-135m``),
  resolved to a cached Transformers folder;
- ``chat``: what generation needs from a real tokenizer (pad and stop tokens, the chat
  template, the context length, prompts cut to fit);
- ``loading``: a model and tokenizer ready for generation, from any of those specs;
- ``random_model``: ``random:<size>``, a random Qwen2-shaped model and an in-memory
  tokenizer (no download).

Importing this package imports neither torch nor transformers; ``random_model`` does, so
the others import it only when a random model is asked for.
"""
