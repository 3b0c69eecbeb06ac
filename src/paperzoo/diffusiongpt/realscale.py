"""The paper's scale: a zoo of Stable Diffusion checkpoints and LoRAs through diffusers pipelines.

`DiffusersZoo` has the world zoo's interface (`keys`, `card`, `generate`), so the pipeline,
the database builder and the CLI run on it unchanged. Its cards are the official ones
(`model_data_sd15.json` as released works as it is) plus, where needed, a `path` per card;
without one, the official layout is assumed: `checkpoints/<model_name>` beside the cards file.
A card's weights are:

- a diffusers pipeline folder (with model_index.json): `DiffusionPipeline.from_pretrained`;
- a single-file checkpoint (.safetensors / .ckpt): `StableDiffusionPipeline.from_single_file`,
  which offline needs the card's `config` (a local diffusers folder of the same architecture);
- a LoRA file (model_type "lora"): loaded with `load_lora_weights` onto its base, the zoo
  checkpoint that `resources_used[0]` names (resolved by the same name snapping as the
  controller's replies; the official code asks the LLM and then cuts two characters off).

Nothing is downloaded: every path is local.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import torch
from torch import Tensor

from paperzoo.core.errors import CheckpointError, InputError
from paperzoo.diffusiongpt.cards import CardZoo, ModelCard
from paperzoo.diffusiongpt.llm import snap


class DiffusersZoo(CardZoo):
    def __init__(self, card_file: str | Path, root: str | Path | None = None, device: str = "cpu",
                 dtype: torch.dtype | None = None, steps: int = 30, guidance: float = 7.5, size: int | None = None):
        super().__init__(card_file)
        self.root = Path(root) if root is not None else self.card_file.parent / "checkpoints"
        self.device, self.dtype = device, dtype or (torch.float16 if str(device).startswith("cuda") else torch.float32)
        self.steps, self.guidance, self.size = steps, guidance, size
        self._key: str | None = None
        self._pipe = None

    def weights(self, card: ModelCard) -> Path:
        path = Path(card.path) if card.path else Path(card.model_name)
        path = path if path.is_absolute() else self.root / path
        if not path.exists():
            raise CheckpointError(f"model {card.key}: its weights {path} do not exist (set the card's \"path\")")
        return path

    def _load_checkpoint(self, card: ModelCard):
        from diffusers import DiffusionPipeline, StableDiffusionPipeline

        path = self.weights(card)
        try:
            if path.is_dir():
                return DiffusionPipeline.from_pretrained(path, torch_dtype=self.dtype)
            config = card.extra.get("config")
            if config is None:
                raise CheckpointError(f"model {card.key}: the single-file checkpoint {path} needs the card's \"config\" "
                                      "(a local diffusers folder of the same architecture) to load offline")
            return StableDiffusionPipeline.from_single_file(path, config=str(config), torch_dtype=self.dtype,
                                                            local_files_only=True)
        except CheckpointError:
            raise
        except (OSError, ValueError, EnvironmentError) as err:
            raise CheckpointError(f"model {card.key}: {path} could not be loaded as a diffusers pipeline ({err})") from None

    def pipeline(self, key: str):
        """The pipeline of model `key` (one kept in memory at a time: SD pipelines are large)."""
        if key == self._key:
            return self._pipe
        card = self.card(key)
        if card.model_type == "lora":
            checkpoints = self.checkpoint_keys()
            base = snap(card.resources_used[0], checkpoints) if card.resources_used else None
            if base is None:
                raise InputError(f"LoRA {key}: its base {card.resources_used[:1]} is none of the zoo's checkpoints "
                                 f"({', '.join(checkpoints)})")
            pipe = self._load_checkpoint(self.card(base))
            path = self.weights(card)
            try:
                pipe.load_lora_weights(str(path.parent if path.is_file() else path),
                                       weight_name=path.name if path.is_file() else None)
            except (OSError, ValueError, KeyError) as err:
                raise CheckpointError(f"LoRA {key}: {path} could not be loaded onto {base} ({err})") from None
        else:
            pipe = self._load_checkpoint(card)
        pipe.set_progress_bar_config(disable=True)
        self._key, self._pipe = key, pipe.to(self.device)
        return self._pipe

    def generate(self, key: str, prompts: Sequence[str], noise: Tensor | None = None,
                 negative_prompts: Sequence[str] | None = None, generator: torch.Generator | None = None) -> Tensor:
        """Images (N, 3, H, W) in [-1, 1]; `noise` is the initial latents (N, C, H/8, W/8) when given."""
        pipe = self.pipeline(key)
        kwargs = dict(num_inference_steps=self.steps, guidance_scale=self.guidance, output_type="pt", generator=generator)
        if self.size:
            kwargs.update(height=self.size, width=self.size)
        if noise is not None:
            kwargs["latents"] = noise.to(self.device, self.dtype)
        images = pipe(list(prompts), negative_prompt=list(negative_prompts) if negative_prompts else None, **kwargs).images
        return images.float().cpu() * 2 - 1
