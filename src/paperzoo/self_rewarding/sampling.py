"""Sampling candidates: N responses per prompt with temperature and nucleus (top-p) sampling.

The paper samples N = 4 candidate responses per prompt at T = 0.7, p = 0.9 (§3.2), and
each judgment with the same decoding. The sampler itself (all prompts x N candidates as one
left-padded batch with a KV cache, and naive regeneration as its slow reference) is shared
with chatqa and lives in `paperzoo.core.generation`; its names are re-exported here.
"""

from paperzoo.core.generation import generate, next_token, top_p_filter

__all__ = ["generate", "next_token", "top_p_filter"]
