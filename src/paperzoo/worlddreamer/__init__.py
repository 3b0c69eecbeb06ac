"""WorldDreamer: general world models for video generation by predicting masked tokens
(Wang, Zhu, Huang, Wang, Chen, Lu; arXiv 2401.09985).

MaskGIT for video: every frame becomes VQ tokens; a random fraction of them, at the same
positions in every frame, is masked, and the Spatial Temporal Patchwise Transformer (STPT)
predicts them from the visible tokens and a multimodal prompt (text, actions). At inference
the masked tokens are decoded in parallel, most confident first, in about 10 steps, with
classifier-free guidance. Every task (text-, image-, action-to-video, inpainting,
unconditional) is only a starting mask and a prompt.

Where each part of the paper lives:
    §3.2 Eq. 1 the visual tokenizer (VQ, 8192 codes)            tokenizer.py
    §3.2 the multimodal prompt E_M = [E_T; E_A]                  prompts.py
    §3.2 Fig. 3, Eqs. 3-4 STPT: 3D conv, patchwise attention,
         spatial-wise cross-attention                             stpt.py
    §3.3 the mask rate and shared masks                           masking.py
    §3.3 Eq. 6 parallel decoding with CFG; token by token         decoding.py
    §3.3 the tasks as masks and prompts (Figs. 5-9)               tasks.py
    §4.2 sizes: `tiny` and `stpt-1b` (ours)                       config.py
"""

from paperzoo.worlddreamer.config import STPTConfig, TokenizerConfig, WorldDreamerConfig, config, configs
from paperzoo.worlddreamer.decoding import Decoded, parallel_decode, token_by_token_decode
from paperzoo.worlddreamer.masking import mask_rate, sample_mask
from paperzoo.worlddreamer.prompts import PromptEncoder, Prompts
from paperzoo.worlddreamer.stpt import STPT
from paperzoo.worlddreamer.tokenizer import FrameTokenizer

__all__ = ["STPT", "STPTConfig", "TokenizerConfig", "WorldDreamerConfig", "config", "configs", "Decoded", "parallel_decode",
           "token_by_token_decode", "mask_rate", "sample_mask", "PromptEncoder", "Prompts", "FrameTokenizer"]
