"""FLOPs of a VMamba forward pass, counted the way the paper's tables are (fvcore, card §2):

    a multiply-accumulate = 1 FLOP for convolutions, linear layers and einsums
    LayerNorm = 5 x its elements;  average pooling = its input elements
    selective scan = 9 L D N + L D   (D = K D_i channels; the official `flops_selective_scan_fn`)
    element-wise operations (activations, gates, residual adds, flips) = 0

Everything in a VMamba is linear in the number of tokens L = H W / 16 at every stage, so
FLOPs grow linearly with the pixel count (T9), unlike a ViT's attention.
"""

from __future__ import annotations

from paperzoo.vmamba.config import VMambaConfig, registry


def ss2d_flops(width: int, tokens: int, config: VMambaConfig, other: int = 1) -> int:
    d, r, n, k = int(config.ssm_ratio * width), config.rank(width), config.d_state, config.routes
    gated = config.variant == "v0"
    return (
        tokens * width * (2 * d if gated else d)  # in_proj
        + tokens * d * 9  # depthwise 3x3 conv
        + k * tokens * d * (r + 2 * n)  # x_proj
        + k * tokens * r * d  # dt_proj
        + other * (9 * tokens * k * d * n + tokens * k * d)  # the scan
        + other * 5 * tokens * d  # out_norm
        + tokens * d * width  # out_proj
    )


def block_flops(width: int, tokens: int, config: VMambaConfig, other: int = 1) -> int:
    total = other * 5 * tokens * width + ss2d_flops(width, tokens, config, other)
    if config.mlp_ratio > 0:
        hidden = int(width * config.mlp_ratio)
        total += other * 5 * tokens * width + 2 * tokens * width * hidden
    return total


def flops(config: VMambaConfig | str, height: int = 224, width: int | None = None, head: bool = True,
          macs_only: bool = False) -> int:
    """Forward FLOPs of one image of `height` x `width` (default square). `macs_only` leaves
    out LayerNorms, pooling and the scan: what torch's FlopCounterMode sees (at 2 per MAC)."""
    config = registry.get(config)
    other = 0 if macs_only else 1
    width = width or height
    c, cin = config.dims, config.in_chans
    h, w = height // 4, width // 4
    if config.patch_embed == "v1":
        total = h * w * c * cin * 16 + other * 5 * h * w * c
    else:
        h2, w2 = height // 2, width // 2
        total = h2 * w2 * (c // 2) * cin * 9 + other * 5 * h2 * w2 * (c // 2) + h * w * c * (c // 2) * 9 + other * 5 * h * w * c
    dims = config.stage_dims
    for i, (dim, depth) in enumerate(zip(dims, config.depths)):
        total += depth * block_flops(dim, h * w, config, other)
        if i < len(dims) - 1:
            h, w = (h + 1) // 2, (w + 1) // 2
            if config.downsample == "v1":
                total += other * 5 * h * w * 4 * dim + h * w * 4 * dim * 2 * dim
            else:
                total += h * w * 2 * dim * dim * 9 + other * 5 * h * w * 2 * dim
    if head:
        total += other * (5 * h * w * dims[-1] + h * w * dims[-1]) + (dims[-1] * config.num_classes if config.num_classes else 0)
    return total
