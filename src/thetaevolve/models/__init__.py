"""Model files and tokenizers shared by every model-backed path (proposers and RL).

- ``bundled``: model names that ThetaEvolve knows without a download (``smollm2-135m``),
  resolved to a cached Transformers folder;
- ``chat``: what generation needs from a real tokenizer (pad and stop tokens, the chat
  template, the context length, prompts cut to fit).

Nothing here imports torch or transformers at import time.
"""
