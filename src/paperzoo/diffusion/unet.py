"""The denoiser: diffusers' `UNet2DConditionModel`, on a space-to-depth view of the image.

`patch` = p folds each p x p pixel block into channels (`pixel_unshuffle`), so a (3, 32, 32)
image enters the UNet as (12, 16, 16) and leaves the same way back (`pixel_shuffle`): the
patchify stem of DiT / simple diffusion: the UNet runs at a quarter of the pixels, which is
what lets the tiny model train in minutes on a CPU. With p = 1 it is the plain UNet.
"""

from __future__ import annotations

import torch.nn.functional as F
from diffusers import UNet2DConditionModel
from torch import Tensor, nn

from paperzoo.diffusion.config import TextToImageConfig


def build_unet(config: TextToImageConfig) -> UNet2DConditionModel:
    down = tuple("CrossAttnDownBlock2D" if a else "DownBlock2D" for a in config.cross_attention)
    up = tuple("CrossAttnUpBlock2D" if a else "UpBlock2D" for a in reversed(config.cross_attention))
    c = config.channels * config.patch**2
    return UNet2DConditionModel(
        sample_size=config.image_size // config.patch, in_channels=c, out_channels=c,
        block_out_channels=config.block_out_channels, layers_per_block=config.layers_per_block,
        down_block_types=down, up_block_types=up, mid_block_type="UNetMidBlock2DCrossAttn",
        cross_attention_dim=config.text_dim, attention_head_dim=config.attention_head_dim,
        norm_num_groups=config.norm_num_groups,
    )


class PatchedUNet(nn.Module):
    """x (B, C, H, W), t (B,), text states (B, L, D) and their mask (B, L) -> (B, C, H, W)."""

    def __init__(self, config: TextToImageConfig):
        super().__init__()
        self.patch = config.patch
        self.unet = build_unet(config)

    def forward(self, x: Tensor, t: Tensor, states: Tensor, mask: Tensor) -> Tensor:
        h = F.pixel_unshuffle(x, self.patch) if self.patch > 1 else x
        out = self.unet(h, t, encoder_hidden_states=states, encoder_attention_mask=mask.to(states.dtype)).sample
        return F.pixel_shuffle(out, self.patch) if self.patch > 1 else out
