"""ImageReward (Xu et al. 2023) from a local checkpoint: the score the paper's database ranks by.

The released model (`ImageReward.pt` with `med_config.json`, THUDM/ImageReward) is BLIP: a
ViT (ViT-L/16 at 224 px) encodes the image; BLIP's text encoder (BERT with a cross-attention
block in every layer) reads the prompt while attending to the image patches; the [CLS]
feature goes through a five-layer MLP (no activations, as released) and is standardised by
the released mean and std:

    reward(prompt, image) = (MLP(text_encoder(prompt | ViT(image))[:, 0]) - 0.16717) / 1.03334

Both encoders are transformers' BLIP modules (`BlipVisionModel`, `BlipTextModel`, ports of
BLIP's `vit.py` and `med.py`), loaded from the official state dict by renaming its keys; the
ViT's sizes are read off the weights (heads: width / 64, as BLIP's `create_vit` for ViT-B and
ViT-L; at least one). The text
side is tokenised like the official `score`: bert-base-uncased plus BLIP's `[DEC]` and
`[ENC]` tokens, padded to 35. Images are preprocessed like the official `_transform`:
bicubic resize of the shorter side (PIL), centre crop, CLIP's mean and std.

Equal to the official code on a tiny random checkpoint (`tests/diffusiongpt/test_imagereward.py`,
fixture from `tests/fixtures/diffusiongpt/make_imagereward_fixture.py`). Nothing is
downloaded: the checkpoint, `med_config.json` and a bert-base-uncased tokenizer folder are local.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from torch import Tensor, nn

from paperzoo.core.errors import CheckpointError, InputError

MEAN, STD = 0.16717362830052426, 1.0333394966054072  # the released standardisation
MAX_TOKENS = 35  # the official score(): padding="max_length", max_length=35
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
VISION_LN_EPS = 1e-6  # BLIP's VisionTransformer: partial(nn.LayerNorm, eps=1e-6)


def _vision_key(key: str) -> str:
    """An official `blip.visual_encoder.*` key (timm ViT names) -> transformers' BlipVisionModel name."""
    fixed = {"cls_token": "embeddings.class_embedding", "pos_embed": "embeddings.position_embedding",
             "patch_embed.proj.weight": "embeddings.patch_embedding.weight",
             "patch_embed.proj.bias": "embeddings.patch_embedding.bias",
             "norm.weight": "post_layernorm.weight", "norm.bias": "post_layernorm.bias"}
    if key in fixed:
        return fixed[key]
    m = re.fullmatch(r"blocks\.(\d+)\.(.+)", key)
    if m is None:
        raise CheckpointError(f"ImageReward checkpoint: unexpected vision key visual_encoder.{key}")
    inner = {"norm1": "layer_norm1", "norm2": "layer_norm2", "attn.qkv": "self_attn.qkv",
             "attn.proj": "self_attn.projection", "mlp.fc1": "mlp.fc1", "mlp.fc2": "mlp.fc2"}
    module, _, leaf = m.group(2).rpartition(".")
    if module not in inner:
        raise CheckpointError(f"ImageReward checkpoint: unexpected vision key visual_encoder.{key}")
    return f"encoder.layers.{m.group(1)}.{inner[module]}.{leaf}"


def _load_state(path: Path) -> dict[str, Tensor]:
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path))
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - a corrupt or foreign file, reported with its path
        raise CheckpointError(f"ImageReward checkpoint {path}: could not be read ({err})") from None
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise CheckpointError(f"ImageReward checkpoint {path}: expected a state dict, got {type(state).__name__}")
    return state


def _resolve(path: Path, med_config: str | Path | None, tokenizer: str | Path | None) -> tuple[Path, Path, Path]:
    """(checkpoint, med_config.json, tokenizer folder) from a folder or a checkpoint file."""
    folder = path if path.is_dir() else path.parent
    if path.is_dir():
        found = [p for name in ("ImageReward.pt", "ImageReward.safetensors") if (p := path / name).is_file()]
        if not found:
            raise CheckpointError(f"--imagereward {path}: no ImageReward.pt (or .safetensors) in this folder")
        path = found[0]
    elif not path.is_file():
        raise CheckpointError(f"--imagereward {path}: no such file or folder")
    med = Path(med_config) if med_config is not None else folder / "med_config.json"
    if not med.is_file():
        raise CheckpointError(f"ImageReward: its med_config.json was not found at {med} (released beside ImageReward.pt)")
    tok = Path(tokenizer) if tokenizer is not None else next(
        (p for p in (folder / "tokenizer", folder / "bert-base-uncased") if p.is_dir()), folder / "tokenizer")
    if not (tok / "vocab.txt").is_file():
        raise CheckpointError(f"ImageReward: no bert-base-uncased tokenizer (vocab.txt) at {tok}; put one in "
                              f"{folder / 'tokenizer'} or pass its folder")
    return path, med, tok


class ImageReward(nn.Module):
    """reward(prompts, images) -> (N,) standardised ImageReward scores; images (N, 3, H, W) in [-1, 1]."""

    name = "imagereward"

    def __init__(self, vision_config, text_config, mlp_sizes: Sequence[int], tokenizer):
        from transformers.models.blip.modeling_blip import BlipVisionModel
        from transformers.models.blip.modeling_blip_text import BlipTextModel

        super().__init__()
        self.visual_encoder = BlipVisionModel(vision_config)
        self.text_encoder = BlipTextModel(text_config, add_pooling_layer=False)
        layers: list[nn.Module] = []
        for i, (a, b) in enumerate(zip(mlp_sizes[:-1], mlp_sizes[1:])):
            layers.append(nn.Linear(a, b))
            if i < len(mlp_sizes) - 3:  # the released MLP: Dropout after the first three Linears only
                layers.append(nn.Dropout(0.0))
        self.mlp = nn.Sequential(*layers)
        self.tokenizer = tokenizer
        self.image_size = vision_config.image_size
        self.eval()

    @classmethod
    def from_local(cls, path: str | Path, med_config: str | Path | None = None, tokenizer: str | Path | None = None,
                   vision_heads: int | None = None) -> "ImageReward":
        """The released checkpoint: a folder holding ImageReward.pt, med_config.json and a
        bert-base-uncased tokenizer folder (`tokenizer/`), or the checkpoint file with the other two given."""
        from transformers import BertTokenizer, BlipTextConfig, BlipVisionConfig

        ckpt, med, tok_dir = _resolve(Path(path), med_config, tokenizer)
        state = _load_state(ckpt)
        vision = {_vision_key(k[len("blip.visual_encoder."):]): v for k, v in state.items()
                  if k.startswith("blip.visual_encoder.")}
        text = {k[len("blip.text_encoder."):]: v for k, v in state.items() if k.startswith("blip.text_encoder.")}
        mlp = {k[len("mlp.layers."):]: v for k, v in state.items() if k.startswith("mlp.layers.")}
        if not vision or not text or not mlp:
            raise CheckpointError(f"ImageReward checkpoint {ckpt}: expected blip.visual_encoder.*, blip.text_encoder.* "
                                  "and mlp.layers.* keys (the released layout)")
        width = vision["embeddings.class_embedding"].shape[-1]
        patch = vision["embeddings.patch_embedding.weight"].shape[-1]
        grid = int(round((vision["embeddings.position_embedding"].shape[1] - 1) ** 0.5))
        depth = 1 + max(int(k.split(".")[2]) for k in vision if k.startswith("encoder.layers."))
        vcfg = BlipVisionConfig(hidden_size=width, intermediate_size=vision["encoder.layers.0.mlp.fc1.weight"].shape[0],
                                num_hidden_layers=depth, num_attention_heads=vision_heads or max(1, width // 64),
                                image_size=grid * patch, patch_size=patch, layer_norm_eps=VISION_LN_EPS, hidden_act="gelu")
        try:
            med_json = json.loads(med.read_text())
        except (OSError, json.JSONDecodeError) as err:
            raise CheckpointError(f"ImageReward: {med} is not a JSON config ({err})") from None
        keep = ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size",
                "hidden_act", "max_position_embeddings", "layer_norm_eps", "pad_token_id")
        tokenizer_ = BertTokenizer.from_pretrained(str(tok_dir))
        tokenizer_.add_special_tokens({"bos_token": "[DEC]"})  # BLIP's init_tokenizer
        tokenizer_.add_special_tokens({"additional_special_tokens": ["[ENC]"]})
        tcfg = BlipTextConfig(**{k: med_json[k] for k in keep if k in med_json}, encoder_hidden_size=width,
                              hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
                              bos_token_id=tokenizer_.bos_token_id, sep_token_id=tokenizer_.sep_token_id)
        linears = sorted({int(k.split(".")[0]) for k in mlp})
        sizes = [mlp[f"{linears[0]}.weight"].shape[1]] + [mlp[f"{i}.weight"].shape[0] for i in linears]
        model = cls(vcfg, tcfg, sizes, tokenizer_)
        try:  # the released layout: Linear at 0, 2, 4, 6, 7 with Dropouts between (rebuilt the same)
            model.mlp.load_state_dict(mlp)
        except RuntimeError as err:
            raise CheckpointError(f"ImageReward checkpoint {ckpt}: the MLP head does not fit ({err})") from None
        missing = model.visual_encoder.load_state_dict(vision, strict=False)
        if missing.missing_keys or missing.unexpected_keys:
            raise CheckpointError(f"ImageReward checkpoint {ckpt}: vision weights do not fit ({missing})")
        text_missing = model.text_encoder.load_state_dict(text, strict=False)
        absent = [k for k in text_missing.missing_keys if not k.endswith("position_ids")]
        if absent or text_missing.unexpected_keys:
            raise CheckpointError(f"ImageReward checkpoint {ckpt}: text weights do not fit (missing {absent[:3]}, "
                                  f"unexpected {text_missing.unexpected_keys[:3]})")
        return model.eval()

    # --------------------------------------------------------------------------- inputs

    def preprocess(self, images: Sequence) -> Tensor:
        """PIL images -> (N, 3, S, S): the official `_transform(S)` (torchvision's Resize of the shorter
        side, bicubic on the PIL image; CenterCrop; ToTensor; CLIP normalisation), written with PIL."""
        from PIL import Image

        n = self.image_size
        out = []
        for img in images:
            img = img.convert("RGB")
            w, h = img.size
            short, long = (w, h) if w <= h else (h, w)
            new_short, new_long = n, int(n * long / short)
            size = (new_short, new_long) if w <= h else (new_long, new_short)
            if (w, h) != size:
                img = img.resize(size, Image.BICUBIC)
            w, h = img.size
            top, left = int(round((h - n) / 2.0)), int(round((w - n) / 2.0))
            img = img.crop((left, top, left + n, top + n))
            x = torch.from_numpy(np.asarray(img, dtype=np.uint8).copy()).permute(2, 0, 1).float() / 255
            out.append((x - torch.tensor(CLIP_MEAN)[:, None, None]) / torch.tensor(CLIP_STD)[:, None, None])
        return torch.stack(out)

    def tokenize(self, prompts: Sequence[str]) -> dict[str, Tensor]:
        return self.tokenizer(list(prompts), padding="max_length", truncation=True, max_length=MAX_TOKENS,
                              return_tensors="pt")

    # --------------------------------------------------------------------------- scores

    def forward(self, input_ids: Tensor, attention_mask: Tensor, pixel_values: Tensor) -> Tensor:
        """The official `score_gard`: (N,) standardised rewards."""
        image_embeds = self.visual_encoder(pixel_values=pixel_values).last_hidden_state
        image_atts = torch.ones(image_embeds.shape[:-1], dtype=torch.long, device=image_embeds.device)
        text = self.text_encoder(input_ids=input_ids, attention_mask=attention_mask, encoder_hidden_states=image_embeds,
                                 encoder_attention_mask=image_atts, return_dict=True)
        return ((self.mlp(text.last_hidden_state[:, 0, :].float()) - MEAN) / STD).squeeze(-1)

    @torch.no_grad()
    def score_pil(self, prompts: Sequence[str], images: Sequence, batch_size: int = 16) -> Tensor:
        """Rewards of (prompt, PIL image) pairs, one prompt per image."""
        if len(prompts) != len(images):
            raise InputError(f"ImageReward: {len(prompts)} prompts for {len(images)} images")
        device = next(self.parameters()).device
        out = []
        for i in range(0, len(images), batch_size):
            tok = self.tokenize(prompts[i: i + batch_size])
            pixels = self.preprocess(images[i: i + batch_size]).to(device)
            out.append(self(tok["input_ids"].to(device), tok["attention_mask"].to(device), pixels).cpu())
        return torch.cat(out) if out else torch.zeros(0)

    def reward(self, prompts: Sequence[str], images: Tensor) -> Tensor:
        """The scorer interface of the world's ConsistencyScorer: images (N, 3, H, W) in [-1, 1]."""
        from PIL import Image

        from paperzoo.diffusion.sampling import to_uint8

        return self.score_pil(prompts, [Image.fromarray(a) for a in to_uint8(images)])
