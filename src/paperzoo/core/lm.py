"""A Llama-style causal LM as a plain config value (nanoGPT style), shared by the systems that
train one from scratch (self_rewarding, chatqa).

`LMConfig` holds every size; `to_llama()` turns it into a `transformers.LlamaConfig`, so the
model is transformers' own `LlamaForCausalLM` (RMSNorm, RoPE, SwiGLU, grouped-query
attention when kv_heads < heads) and saves/loads as a Hugging Face folder. Special token
ids are the world tokenizers' fixed ones: pad 0, bos 1, eos 2.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class LMConfig:
    """A Llama-style causal LM (Touvron et al. 2023's family)."""

    vocab_size: int
    hidden_size: int
    layers: int
    heads: int
    kv_heads: int
    intermediate_size: int
    max_positions: int
    dropout: float = 0.0  # attention dropout: the only dropout a Llama block has
    rope_theta: float = 10000.0
    rms_norm_eps: float = 1e-5
    tie_embeddings: bool = False

    def to_llama(self):
        from transformers import LlamaConfig

        return LlamaConfig(
            vocab_size=self.vocab_size, hidden_size=self.hidden_size, num_hidden_layers=self.layers,
            num_attention_heads=self.heads, num_key_value_heads=self.kv_heads,
            intermediate_size=self.intermediate_size, max_position_embeddings=self.max_positions,
            attention_dropout=self.dropout, rope_theta=self.rope_theta, rms_norm_eps=self.rms_norm_eps,
            tie_word_embeddings=self.tie_embeddings, pad_token_id=0, bos_token_id=1, eos_token_id=2,
        )

    def num_parameters(self) -> int:
        """The parameter count of `LlamaForCausalLM(self.to_llama())`, counted on the meta device
        (no memory, so it works for 70B configs too); tied embeddings are counted once."""
        import torch
        from transformers import LlamaForCausalLM

        with torch.device("meta"):
            return sum(p.numel() for p in LlamaForCausalLM(self.to_llama()).parameters())
