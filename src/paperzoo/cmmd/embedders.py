"""Image embedders behind one protocol: `embed(images) -> (N, D)`, rows L2-normalised.

    images: (N, input_size, input_size, 3) floats in [0, 1] (images.py makes them from files)

- `SparcEmbedder` (the offline default): the tiny SPARC image encoder trained on the scene
  world (paperzoo.sparc, trained once and cached; never on evaluation images), global
  embedding v̄, D = 64, 48 px input.
- `ClipEmbedder`: CLIP ViT-L/14@336px, the paper's embedder (768-d projected image
  embedding, L2-normalised as scenic does), from a local Hugging Face folder
  (`CLIPVisionModelWithProjection` or a full `CLIPModel` folder) or an OpenAI `.pt` file
  (TorchScript archive or plain state dict; key map below). Normalised with the CLIP mean
  and std, as `embedding.py` does.

`load_embedder(spec)` picks one from a name or a path (the `--embedder NAME|FOLDER` forms of
core's `model_source`, plus an OpenAI `.pt` file); `fingerprint` names the weights for caches.
The default, "sparc-tiny", is trained on first use (5-10 minutes on 2 CPU cores) and
cached; `load_embedder` says so, with the training's progress bar, before it starts.
"""

from __future__ import annotations

import hashlib
import json
import math
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor
from tqdm.auto import tqdm

from paperzoo.core.cli import model_source
from paperzoo.core.errors import CheckpointError, InputError, PaperzooError
from paperzoo.sparc.train import PRETRAINED_TINY_MINUTES

DEFAULT_EMBEDDER = "sparc-tiny"  # the tiny SPARC image encoder trained on the scene world
EMBEDDER_NAMES = (DEFAULT_EMBEDDER,)
# Training the default embedder once (paperzoo.sparc `tiny`, 1,000 steps of batch 128):
# 4-9 minutes on 2 CPU cores (issue 14), 10 min 16 s of one core (measured 2026-12-01);
# SPARC keeps the figure.
TRAIN_MINUTES = PRETRAINED_TINY_MINUTES

# CLIP ViT-L/14@336px, the paper's embedder (CLIPVisionConfig kwargs): 24 layers of width
# 1024, 16 heads, 577 tokens, 1024 -> 768 projection; 304,293,888 parameters.
VIT_L14_336 = dict(hidden_size=1024, intermediate_size=4096, num_hidden_layers=24, num_attention_heads=16,
                   image_size=336, patch_size=14, projection_dim=768, hidden_act="quick_gelu", layer_norm_eps=1e-5)

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


def _file_fingerprint(paths: list[Path]) -> str:
    """Cheap identity of weight files: names, sizes and modification times."""
    parts = [f"{p.name}:{p.stat().st_size}:{p.stat().st_mtime_ns}" for p in sorted(paths)]
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]


class Embedder:
    """Common batching, checks and normalisation; subclasses implement `_forward`."""

    name: str  # a human-readable name, also part of cache keys
    fingerprint: str  # identifies the weights
    input_size: int
    dim: int
    preprocessing = "centre-crop + PIL bicubic resize, /255"

    def __init__(self, model: torch.nn.Module, device: str = "cpu"):
        self.device = torch.device(device)
        self.model = model.to(self.device).eval()

    def _forward(self, pixels: Tensor) -> Tensor:  # (B, 3, S, S) in [0, 1] -> (B, D)
        raise NotImplementedError

    def check(self, images) -> np.ndarray:
        images = images.numpy() if isinstance(images, Tensor) else np.asarray(images)
        s = self.input_size
        if images.ndim != 4 or images.shape[1:] != (s, s, 3):
            raise InputError(f"images: expected (N, {s}, {s}, 3) floats in [0, 1] for {self.name}, got shape {images.shape}")
        if not np.issubdtype(images.dtype, np.floating):
            raise InputError(f"images: expected floats in [0, 1], got dtype {images.dtype} (divide uint8 images by 255)")
        if images.size and (images.min() < 0 or images.max() > 1):
            raise InputError(f"images: values must lie in [0, 1], got [{images.min():.3f}, {images.max():.3f}]")
        return images

    @torch.no_grad()
    def embed(self, images, batch_size: int = 64, progress: bool = False) -> np.ndarray:
        """(N, S, S, 3) in [0, 1] -> (N, D) float32, each row of unit L2 norm."""
        images = self.check(images)
        out = np.zeros((len(images), self.dim), np.float32)
        for start in tqdm(range(0, len(images), batch_size), desc=f"embed ({self.name})", disable=not progress):
            chunk = torch.from_numpy(np.ascontiguousarray(images[start:start + batch_size])).float()
            pixels = chunk.permute(0, 3, 1, 2).to(self.device)
            out[start:start + len(chunk)] = F.normalize(self._forward(pixels).float(), dim=-1).cpu().numpy()
        return out

    def describe(self) -> dict:
        return {"name": self.name, "fingerprint": self.fingerprint, "input_size": self.input_size,
                "dim": self.dim, "preprocessing": self.preprocessing}


# ------------------------------------------------------------------------------ SPARC


def default_embedder_folder(seed: int = 0) -> Path:
    """Where `paperzoo.sparc.train.pretrained_tiny(seed)` caches its model (tests/cmmd/test_score.py
    checks that training writes there)."""
    from paperzoo.sparc.train import pretrained_tiny_folder

    return pretrained_tiny_folder(seed)


def default_embedder_is_trained(seed: int = 0) -> bool:
    return (default_embedder_folder(seed) / "model").is_dir()


def announce_training(seed: int = 0, file=None) -> None:
    """One line before the default embedder is trained, so a first `score` does not look hung."""
    print(f"training the offline SPARC embedder once (~{TRAIN_MINUTES} min on 2 CPU cores), cached in "
          f"{default_embedder_folder(seed)}; later runs start at once", file=file or sys.stderr, flush=True)


class SparcEmbedder(Embedder):
    """The global image embedding v̄ of a SPARC model (the default: the tiny world model)."""

    def __init__(self, model=None, device: str = "cpu", seed: int = 0, progress: bool = True):
        from paperzoo.sparc.model import SparcModel
        from paperzoo.sparc.train import pretrained_tiny

        if model is None:
            if not default_embedder_is_trained(seed):
                announce_training(seed)
            model, where = pretrained_tiny(seed=seed, device="cpu", progress=progress), f"sparc-tiny-seed{seed}"
            self.name = "sparc-tiny (scene world)"
        elif isinstance(model, (str, Path)):
            where = Path(model)
            model = SparcModel.from_pretrained(where)
            self.name = f"sparc ({where.name})"
        else:
            where, self.name = "in-memory", "sparc (in-memory)"
        super().__init__(model, device)
        weights = hashlib.sha256()
        for key, value in sorted(self.model.vision.state_dict().items()):
            weights.update(key.encode() + value.detach().cpu().numpy().tobytes())
        self.fingerprint = f"{where}:{weights.hexdigest()[:16]}"
        self.input_size = model.config.vision.image_size
        self.dim = model.config.embed_dim

    def _forward(self, pixels: Tensor) -> Tensor:
        return self.model.encode_image(pixels)["v_global"]


# ------------------------------------------------------------------------------ CLIP


def openai_to_hf_visual(state: dict[str, Tensor]) -> tuple[dict[str, Tensor], dict]:
    """An OpenAI CLIP state dict (keys "visual.*") -> (CLIPVisionModelWithProjection state
    dict, CLIPVisionConfig kwargs inferred from the shapes)."""
    v = {k[len("visual."):]: t for k, t in state.items() if k.startswith("visual.")}
    needed = ("conv1.weight", "class_embedding", "positional_embedding", "ln_pre.weight", "ln_post.weight", "proj")
    missing = [k for k in needed if k not in v]
    if missing:
        raise CheckpointError(f"not an OpenAI CLIP checkpoint with a ViT visual tower: missing visual.{', visual.'.join(missing)}")
    width, _, patch, _ = v["conv1.weight"].shape
    layers = 1 + max(int(k.split(".")[2]) for k in v if k.startswith("transformer.resblocks."))
    grid = math.isqrt(v["positional_embedding"].shape[0] - 1)
    config = dict(hidden_size=width, intermediate_size=v["transformer.resblocks.0.mlp.c_fc.weight"].shape[0],
                  num_hidden_layers=layers, num_attention_heads=width // 64, image_size=grid * patch,
                  patch_size=patch, projection_dim=v["proj"].shape[1], hidden_act="quick_gelu", layer_norm_eps=1e-5)
    e = "vision_model.embeddings."
    out = {e + "class_embedding": v["class_embedding"], e + "patch_embedding.weight": v["conv1.weight"],
           e + "position_embedding.weight": v["positional_embedding"], "visual_projection.weight": v["proj"].T.contiguous()}
    for ours, theirs in (("pre_layrnorm", "ln_pre"), ("post_layernorm", "ln_post")):
        for p in ("weight", "bias"):
            out[f"vision_model.{ours}.{p}"] = v[f"{theirs}.{p}"]
    for i in range(layers):
        src, dst = f"transformer.resblocks.{i}.", f"vision_model.encoder.layers.{i}."
        for p in ("weight", "bias"):
            q, k, val = v[src + f"attn.in_proj_{p}"].chunk(3, dim=0)
            out.update({dst + f"self_attn.q_proj.{p}": q, dst + f"self_attn.k_proj.{p}": k, dst + f"self_attn.v_proj.{p}": val})
            for ours, theirs in (("self_attn.out_proj", "attn.out_proj"), ("layer_norm1", "ln_1"), ("layer_norm2", "ln_2"),
                                 ("mlp.fc1", "mlp.c_fc"), ("mlp.fc2", "mlp.c_proj")):
                out[dst + f"{ours}.{p}"] = v[src + f"{theirs}.{p}"]
    return {k: t.float().contiguous() for k, t in out.items()}, config


def _load_openai(path: Path):
    from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection

    try:
        state = torch.jit.load(str(path), map_location="cpu").state_dict()
    except RuntimeError:  # not TorchScript: a plain state dict
        try:
            state = torch.load(str(path), map_location="cpu", weights_only=True)
        except Exception as e:  # noqa: BLE001 - any unpickling failure means a bad file
            raise CheckpointError(f"{path}: neither a TorchScript archive nor a state dict ({type(e).__name__}: {e})") from e
    if not isinstance(state, dict):
        raise CheckpointError(f"{path}: expected a state dict, got {type(state).__name__}")
    hf_state, kwargs = openai_to_hf_visual(state)
    model = CLIPVisionModelWithProjection(CLIPVisionConfig(**kwargs))
    result = model.load_state_dict(hf_state, strict=False)
    missing = [k for k in result.missing_keys if "position_ids" not in k]
    if missing or result.unexpected_keys:
        raise CheckpointError(f"{path}: key mismatch after mapping (missing {missing[:5]}, unexpected {result.unexpected_keys[:5]})")
    return model


class ClipEmbedder(Embedder):
    """CLIP's projected image embedding (ViT-L/14@336px in the paper), L2-normalised."""

    def __init__(self, path: str | Path, device: str = "cpu", dtype: torch.dtype = torch.float32):
        path = Path(path)
        if not path.exists():
            raise CheckpointError(f"{path}: no such CLIP checkpoint (a Hugging Face folder or an OpenAI .pt file)")
        if path.is_dir():
            from transformers import CLIPVisionModelWithProjection

            if not (path / "config.json").is_file():
                raise CheckpointError(f"{path}: a Hugging Face CLIP folder needs config.json")
            try:
                model = CLIPVisionModelWithProjection.from_pretrained(str(path), torch_dtype=dtype)
            except (OSError, ValueError, KeyError) as e:
                raise CheckpointError(f"{path}: not a loadable Hugging Face CLIP folder ({type(e).__name__}: {e})") from e
            files = [p for p in path.iterdir() if p.suffix in (".safetensors", ".bin")]
        else:
            model, files = _load_openai(path).to(dtype), [path]
        super().__init__(model, device)
        cfg = model.config
        self.name = f"clip ({path.name})"
        self.fingerprint = f"{path.resolve()}:{_file_fingerprint(files)}"
        self.input_size, self.dim = cfg.image_size, cfg.projection_dim
        self.mean = torch.tensor(CLIP_MEAN, device=self.device).view(1, 3, 1, 1)
        self.std = torch.tensor(CLIP_STD, device=self.device).view(1, 3, 1, 1)
        self.preprocessing = Embedder.preprocessing + ", CLIP mean/std"

    def _forward(self, pixels: Tensor) -> Tensor:
        pixels = ((pixels - self.mean) / self.std).to(next(self.model.parameters()).dtype)
        return self.model(pixel_values=pixels).image_embeds


def load_embedder(spec: "str | Path | Embedder | None" = None, device: str = "cpu", progress: bool = True) -> Embedder:
    """`spec` in the `--embedder NAME|FOLDER` forms (core `model_source`): None or a name
    ("sparc-tiny", the default); a paperzoo SPARC checkpoint folder or a Hugging Face CLIP
    folder; or, beside them, an OpenAI CLIP .pt file. An `Embedder` is returned as it is.
    Anything else: one CheckpointError."""
    if isinstance(spec, Embedder):
        return spec
    spec = DEFAULT_EMBEDDER if spec is None else spec
    expected = (f"expected a named embedder ({', '.join(EMBEDDER_NAMES)}), a SPARC or Hugging Face CLIP checkpoint "
                "folder, or an OpenAI CLIP .pt file")
    path = Path(spec)
    if path.is_file():
        if path.suffix.lower() in (".pt", ".pth"):
            return ClipEmbedder(path, device=device)
        raise CheckpointError(f"--embedder {spec}: a file that is not a .pt; {expected}")
    try:
        kind, value = model_source(spec, EMBEDDER_NAMES)
    except PaperzooError:
        raise CheckpointError(f"--embedder {spec}: no such embedder; {expected}") from None
    if kind == "config":
        return SparcEmbedder(device=device, progress=progress)
    path = Path(value)
    if (path / "config.json").is_file():
        try:
            data = json.loads((path / "config.json").read_text())
        except json.JSONDecodeError as e:
            raise CheckpointError(f"{path / 'config.json'}: not valid JSON ({e})") from e
        if isinstance(data, dict) and data.get("class") == "SparcModel":  # a paperzoo SPARC checkpoint
            return SparcEmbedder(path, device=device)
    return ClipEmbedder(path, device=device)
