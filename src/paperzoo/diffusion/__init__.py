"""Shared text-to-image diffusion parts: the tiny world generator and the pieces other systems reuse.

DiffusionGPT routes prompts through a zoo of such generators; WorldDreamer and CustomVideo
will reuse the same parts. Following diffusers, the model, the noise schedule and the
sampler are separate, and the heavy parts ARE diffusers' classes, not rewrites:

- `config.py`     `TextToImageConfig`: every size of the tiny generator, named configs.
- `text_encoder.py`  a small word-level transformer text encoder (the CLIP text encoder's
                  role in Stable Diffusion), over a vocabulary stored in the config.
- `unet.py`       diffusers' `UNet2DConditionModel` with cross-attention to the text states,
                  run on a space-to-depth view of the image (`patch`): a 32x32 image
                  enters the UNet as 16x16.
- `schedule.py`   diffusers' `DDPMScheduler` (training noise, Ho et al. 2020 Eq. 4) and
                  `DDIMScheduler` (sampling, Song et al. 2021 Eq. 12), plus the DDIM step
                  written out as a reference the tests hold diffusers' step against.
- `model.py`      `TextToImage`: text encoder + UNet; the epsilon loss (Ho et al. Eq. 14)
                  with caption dropout for classifier-free guidance; save/from_pretrained.
- `sampling.py`   DDIM sampling with classifier-free guidance (Ho & Salimans 2022),
                  `eps_u + w (eps_c - eps_u)`.
- `lora.py`       LoRA adapters on the UNet through `peft` (as diffusers does), their
                  state alone, and merging them into the weights (a "checkpoint merge").
- `train.py`      training a generator (from scratch or a LoRA on a base) on core's Trainer.

Images are (B, 3, H, W) float tensors in [-1, 1].
"""

from paperzoo.diffusion.config import TextToImageConfig, config, configs
from paperzoo.diffusion.model import TextToImage
from paperzoo.diffusion.sampling import generate

__all__ = ["TextToImage", "TextToImageConfig", "config", "configs", "generate"]
