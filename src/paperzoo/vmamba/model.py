"""VMamba (VSSM): stem, four stages of VSS blocks with downsampling between them, classifier.

A timm-style API:

    model = create_model("vmamba-t", num_classes=1000)   # any registered name, or a VMambaConfig
    logits = model(images)                               # (B, 3, H, W) -> (B, num_classes)
    feats = model.forward_features(images)               # (B, H/32, W/32, 8C), before the head
    maps = model.forward_intermediates(images)           # per-stage maps (B, C_i, H_i, W_i)

Any H and W that the total stride (32 for four stages) divides are accepted; the model has
no positional embedding, so one trained at 224 runs at 384 or 768 unchanged (T9).
"""

from __future__ import annotations

from torch import Tensor, nn

from paperzoo.core.checkpoint import PretrainedMixin
from paperzoo.core.errors import InputError
from paperzoo.vmamba.blocks import VSSBlock, downsample, norm, patch_embed
from paperzoo.vmamba.config import VMambaConfig, registry


class Stage(nn.Module):
    def __init__(self, width: int, depth: int, config: VMambaConfig, drop_paths: list[float], last: bool):
        super().__init__()
        self.blocks = nn.Sequential(*[VSSBlock(width, config, p) for p in drop_paths])
        self.downsample = nn.Identity() if last else downsample(width, config)

    def forward(self, x: Tensor) -> Tensor:
        return self.downsample(self.blocks(x))


class Classifier(nn.Module):
    """LN per position (config.norm), average pool, linear head (the paper's). config.head_hidden
    > 0 puts a GELU layer between the pool and the head (plateau.py's diagnostic); at 0 it adds
    no parameters, so official checkpoints keep their keys."""

    def __init__(self, width: int, num_classes: int, config: VMambaConfig):
        super().__init__()
        hidden = config.head_hidden
        self.norm = norm(width, config)
        self.hidden = nn.Sequential(nn.Linear(width, hidden), nn.GELU()) if hidden else nn.Identity()
        self.head = nn.Linear(hidden or width, num_classes) if num_classes > 0 else nn.Identity()

    def forward(self, x: Tensor) -> Tensor:  # (B, H, W, C) -> (B, classes)
        return self.head(self.hidden(self.norm(x).mean(dim=(1, 2))))


class VMamba(PretrainedMixin, nn.Module):
    config_class = VMambaConfig

    def __init__(self, config: VMambaConfig | str = "vmamba-t"):
        super().__init__()
        config = registry.get(config)
        self.config = config
        dims = config.stage_dims
        total = sum(config.depths)
        rates = [config.drop_path_rate * i / max(total - 1, 1) for i in range(total)]  # linear in depth
        self.patch_embed = patch_embed(config)
        self.layers = nn.ModuleList()
        start = 0
        for i, (width, depth) in enumerate(zip(dims, config.depths)):
            self.layers.append(Stage(width, depth, config, rates[start:start + depth], last=i == len(dims) - 1))
            start += depth
        self.classifier = Classifier(dims[-1], config.num_classes, config)
        self.apply(self._init_weights)

    @staticmethod
    def _init_weights(m: nn.Module) -> None:
        """Linear layers trunc-normal(0.02) with zero bias, LayerNorm (1, 0); convs keep torch's default."""
        if isinstance(m, nn.Linear):
            nn.init.trunc_normal_(m.weight, std=0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.LayerNorm):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)

    def no_weight_decay(self) -> set[str]:
        """A_log and D are excluded from weight decay (as in Mamba and VMamba)."""
        return {name for name, p in self.named_parameters() if getattr(p, "_no_weight_decay", False)}

    def check_images(self, images: Tensor) -> None:
        c = self.config
        if not isinstance(images, Tensor) or not images.is_floating_point() or images.ndim != 4:
            raise InputError(f"images: expected a float tensor (B, {c.in_chans}, H, W), got "
                             f"{getattr(images, 'dtype', type(images).__name__)} {tuple(getattr(images, 'shape', ()))}")
        if images.shape[1] != c.in_chans:
            raise InputError(f"images: expected {c.in_chans} channels, got {images.shape[1]} (shape {tuple(images.shape)})")
        h, w = images.shape[-2:]
        s = c.min_image_size
        if h % s or w % s:
            raise InputError(f"images: height and width must be multiples of {s} (the patch embedding's stride 4 "
                             f"times {s // 4} downsamplings), got {h}x{w}")

    def forward_intermediates(self, images: Tensor) -> list[Tensor]:
        """Each stage's output before its downsampling, channels-first (B, C_i, H_i, W_i)."""
        self.check_images(images)
        x = self.patch_embed(images)
        maps = []
        for stage in self.layers:
            x = stage.blocks(x)
            maps.append(x.permute(0, 3, 1, 2))
            x = stage.downsample(x)
        return maps

    def forward_features(self, images: Tensor) -> Tensor:
        """(B, C, H, W) -> (B, H/32, W/32, 8C), channels-last, before the classifier."""
        self.check_images(images)
        x = self.patch_embed(images)
        for stage in self.layers:
            x = stage(x)
        return x

    def forward(self, images: Tensor) -> Tensor:
        return self.classifier(self.forward_features(images))
