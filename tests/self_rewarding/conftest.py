"""Fixtures shared by the self_rewarding tests."""

import pytest

from paperzoo.self_rewarding.policy import new_policy


@pytest.fixture(scope="session")
def chat_standin(tmp_path_factory):
    """A tiny random Llama saved as a plain Hugging Face folder: it loads in the chat style,
    with the Fig. 2 prompt, the way SmolLM2 does (its digits are single tokens too). The stand-in
    for SmolLM2-135M-Instruct in tests; read only."""
    folder = tmp_path_factory.mktemp("standin") / "hf"
    policy = new_policy("tiny", seed=0)
    policy.model.save_pretrained(folder)
    policy.fmt.tokenizer.save_pretrained(folder)
    return folder
