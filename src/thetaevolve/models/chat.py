"""What generation needs from a real tokenizer, shared by the in-process proposer and RL.

Real tokenizers differ in ways a test model hides: many have no pad token; the token
that ends an assistant turn (``<|im_end|>``, ``<|eot_id|>``, ``<｜end▁of▁sentence｜>``) is
often not the tokenizer's ``eos_token``, so generation that stops only at ``eos`` runs on
into a made-up next turn; and a prompt plus its completion must fit the context window.
"""

from __future__ import annotations

from typing import Any

# Tokens that end an assistant turn in the chat templates of common model families
# (ChatML/Qwen/SmolLM, Llama 3, DeepSeek, Gemma, Phi). Only those that the tokenizer has
# as a single token are used.
END_OF_TURN_TOKENS = (
    "<|im_end|>", "<|eot_id|>", "<|end_of_text|>", "<｜end▁of▁sentence｜>", "<end_of_turn>",
    "<|end|>", "<|endoftext|>",
)
# Used when neither the model config nor the tokenizer states a context length.
FALLBACK_CONTEXT = 4096
# For a tokenizer that brings no chat template (a base model): roles as plain headings.
PLAIN_TEMPLATE = (
    "{% for message in messages %}{{ message['role'] | capitalize }}: {{ message['content'] }}\n\n"
    "{% endfor %}{% if add_generation_prompt %}Assistant: {% endif %}"
)
# Tokenizers without a stated limit report a huge sentinel (~1e30) as model_max_length.
_NO_LIMIT = 10**8


def stop_token_ids(tokenizer: Any, model: Any = None) -> list[int]:
    """Every token id that ends a completion: the model's configured eos ids, the
    tokenizer's eos, and the end-of-turn tokens of known chat formats."""
    ids: list[int] = []

    def add(value: Any) -> None:
        if isinstance(value, int) and value >= 0 and value not in ids:
            ids.append(value)
        elif isinstance(value, (list, tuple)):
            for item in value:
                add(item)

    add(getattr(getattr(model, "generation_config", None), "eos_token_id", None))
    add(getattr(tokenizer, "eos_token_id", None))
    vocab = tokenizer.get_vocab()
    unk = getattr(tokenizer, "unk_token", None)
    for token in END_OF_TURN_TOKENS:
        if token in vocab and token != unk:
            add(vocab[token])
    return ids


def prepare_for_generation(
    tokenizer: Any, model: Any, fallback_template: str | None = PLAIN_TEMPLATE
) -> None:
    """Give the pair what batched chat generation needs, in place: a pad token (the end
    token, as usual), left padding, a chat template, and every end-of-turn id as a stop
    token in the model's generation config."""
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.padding_side = "left"  # decoder-only batches are padded on the left
    if getattr(tokenizer, "chat_template", None) is None and fallback_template is not None:
        tokenizer.chat_template = fallback_template
    generation = getattr(model, "generation_config", None)
    if generation is not None:
        generation.eos_token_id = stop_token_ids(tokenizer, model)
        generation.pad_token_id = tokenizer.pad_token_id


def context_length(model: Any, tokenizer: Any = None) -> int:
    """Tokens the model attends over: the config's position limit, else the tokenizer's."""
    config = getattr(model, "config", None)
    if config is not None and hasattr(config, "get_text_config"):
        config = config.get_text_config()
    for name in ("max_position_embeddings", "n_positions", "max_sequence_length", "seq_length"):
        value = getattr(config, name, None)
        if isinstance(value, int) and value > 0:
            return value
    limit = getattr(tokenizer, "model_max_length", None)
    if isinstance(limit, int) and 0 < limit < _NO_LIMIT:
        return limit
    return FALLBACK_CONTEXT


def prompt_budget(context: int, max_new_tokens: int) -> int:
    """How many prompt tokens may be kept: what the completion leaves of the context, but
    never less than half of it (a completion limit above the context is then cut to what
    the prompt leaves, rather than leaving no room for the prompt)."""
    return max(1, context - min(max_new_tokens, context // 2))


def fit_prompt(ids: list[int], limit: int) -> tuple[list[int], bool]:
    """``ids`` cut to ``limit`` tokens, keeping both ends: the head holds the system
    message and the task, the tail the instructions and the generation prompt that
    opens the assistant turn; the middle (usually program text) is what is dropped."""
    if len(ids) <= limit:
        return ids, False
    head = limit // 4
    tail = limit - head
    return ids[:head] + ids[len(ids) - tail:], True


def encode_chat(
    tokenizer: Any, messages: list[dict[str, str]], template_kwargs: dict[str, Any] | None = None
) -> list[int]:
    """The prompt's token ids through the model's own chat template, opening the
    assistant turn. The template writes its special tokens itself, so the tokenizer adds
    none (a second BOS would otherwise appear)."""
    text = tokenizer.apply_chat_template(
        messages, tokenize=False, add_generation_prompt=True, **(template_kwargs or {})
    )
    return list(tokenizer(text, add_special_tokens=False)["input_ids"])


def opens_reasoning(tokenizer: Any, prompt_ids: list[int]) -> bool:
    """Whether the chat template itself opened a ``<think>`` block at the end of the
    prompt (DeepSeek-R1-0528's does), so that the completion starts inside it."""
    tail = tokenizer.decode(prompt_ids[-12:], skip_special_tokens=False)
    return tail.rstrip().endswith("<think>")
