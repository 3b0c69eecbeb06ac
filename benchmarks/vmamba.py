"""VMamba's cost, side by side in one run (issue 5, card §5).

1. The chunked selective scan vs the step-by-step reference recurrence, at L in
   {256, 1024, 4096} (VMamba-T stage-1 channels: K D_i = 4 x 96, N = 1), batch 1 and 8:
   forward speed-up (target >= 20x at L = 4096 on 2 threads), forward + backward speed-up
   (what training sees), peak memory ratio, and the Eq. 5 "kernel" form beside it.
2. VMamba-T vs a ViT of about the same parameters (width 448, depth 12, patch 16), forward
   time at 224, 512 and 768 px: the VMamba / ViT time ratio should fall as resolution
   grows (linear vs quadratic token mixing), printed with the analytic FLOPs.

    python benchmarks/vmamba.py            # all of it (a few minutes on 2 cores)
    python benchmarks/vmamba.py --quick    # L in {256, 1024}; resolutions 224, 384

Ends with one line per ratio: `ratio <name> = <value> (target ...)`. The official code's
pure-torch path is compared in benchmarks/vmamba_official.py (it needs a local checkout).
"""

import argparse

import torch
from torch import nn

from paperzoo.core.measure import best_of, peak_rss_mib
from paperzoo.vmamba import create_model
from paperzoo.vmamba.flops import flops
from paperzoo.vmamba.scan import selective_scan_chunked, selective_scan_ref


def scan_inputs(length: int, batch: int = 1, channels: int = 384, groups: int = 4, n: int = 1):
    g = torch.Generator().manual_seed(0)
    return (torch.randn(batch, channels, length, generator=g), torch.randn(batch, channels, length, generator=g) - 1,
            -torch.rand(channels, n, generator=g) - 0.5, torch.randn(batch, groups, n, length, generator=g),
            torch.randn(batch, groups, n, length, generator=g), torch.ones(channels), torch.zeros(channels))


def _run_ref(args) -> None:
    with torch.no_grad():
        selective_scan_ref(*args)


def _run_chunked(args) -> None:
    with torch.no_grad():
        selective_scan_chunked(*args)


def _train_step(fn, args) -> None:
    leaves = [t.detach().requires_grad_() for t in args]
    (fn(*leaves) * leaves[0]).sum().backward()


def _run_kernel(args) -> None:
    with torch.no_grad():
        selective_scan_chunked(*args, intra="kernel")


class ViT(nn.Module):
    """A plain pre-norm ViT (no CLS token, mean-pooled), for the resolution comparison."""

    def __init__(self, width: int = 448, depth: int = 12, heads: int = 7, patch: int = 16, classes: int = 1000):
        super().__init__()
        self.embed = nn.Conv2d(3, width, patch, stride=patch)
        layer = nn.TransformerEncoderLayer(width, heads, 4 * width, dropout=0.0, activation="gelu", batch_first=True, norm_first=True)
        self.blocks = nn.TransformerEncoder(layer, depth)
        self.head = nn.Linear(width, classes)
        self.patch = patch

    def forward(self, x):
        tokens = self.embed(x).flatten(2).transpose(1, 2)
        grid = 224 // self.patch
        pos = torch.zeros(1, grid * grid, tokens.shape[-1])  # fixed-size table, interpolated as timm does
        pos = nn.functional.interpolate(pos.transpose(1, 2).view(1, -1, grid, grid), size=x.shape[-1] // self.patch)
        return self.head(self.blocks(tokens + pos.flatten(2).transpose(1, 2)).mean(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(2)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads\n")

    print("| batch | L | reference | chunked | speed-up | fwd+bwd ref | fwd+bwd chunked | speed-up | chunked, Eq. 5 kernel "
          "| ref peak MiB | chunked peak MiB | memory ratio |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    speedups = {}
    for batch in (1, 8):
        for length in (256, 1024) if args.quick else (256, 1024, 4096):
            inputs = scan_inputs(length, batch)
            t_ref = best_of(lambda: _run_ref(inputs), 1 if length > 1024 else 3)
            t_fast = best_of(lambda: _run_chunked(inputs), 10)
            t_kernel = best_of(lambda: _run_kernel(inputs), 1)
            # the reference's autograd backward over L steps takes minutes at batch 8, L 4096
            b_ref = best_of(lambda: _train_step(selective_scan_ref, inputs), 1) if batch * length <= 8192 else float("nan")
            b_fast = best_of(lambda: _train_step(selective_scan_chunked, inputs), 3)
            m_ref = peak_rss_mib(scan_inputs, _run_ref, length, batch)
            m_fast = peak_rss_mib(scan_inputs, _run_chunked, length, batch)
            print(f"| {batch} | {length} | {t_ref * 1e3:.0f} ms | {t_fast * 1e3:.1f} ms | {t_ref / t_fast:.1f}x | "
                  + (f"{b_ref * 1e3:.0f} ms | {b_fast * 1e3:.1f} ms | {b_ref / b_fast:.1f}x | " if b_ref == b_ref
                     else f"(minutes) | {b_fast * 1e3:.1f} ms | - | ") +
                  f"{t_kernel * 1e3:.0f} ms | {m_ref:.0f} | {m_fast:.0f} | {m_fast / max(m_ref, 1e-3):.2f} |", flush=True)
            if b_ref == b_ref:  # measured
                speedups[batch] = (length, t_ref / t_fast, b_ref / b_fast, m_fast / max(m_ref, 1e-3))
            else:
                speedups[batch] = (length, t_ref / t_fast, None, m_fast / max(m_ref, 1e-3))

    torch.manual_seed(0)
    vm, vit = create_model("vmamba-t").eval(), ViT().eval()
    pv, pt = (sum(p.numel() for p in m.parameters()) for m in (vm, vit))
    print(f"\nVMamba-T {pv / 1e6:.1f}M parameters, ViT {pt / 1e6:.1f}M; batch 1, forward, no grad\n")
    print("| px | VMamba-T | ViT | VMamba / ViT | VMamba GFLOPs |")
    print("| --- | --- | --- | --- | --- |")
    ratios = []
    sizes = (224, 384) if args.quick else (224, 512, 768)
    for px in sizes:
        x = torch.randn(1, 3, px, px)
        with torch.no_grad():
            t_vm = best_of(lambda: vm(x), 2)
            t_vit = best_of(lambda: vit(x), 2)
        ratios.append(t_vm / t_vit)
        print(f"| {px} | {t_vm * 1e3:.0f} ms | {t_vit * 1e3:.0f} ms | {ratios[-1]:.2f} | {flops('vmamba-t', px) / 1e9:.2f} |", flush=True)
    print(f"\nvmamba/vit time ratio by resolution: {' -> '.join(f'{r:.2f}' for r in ratios)} "
          f"({'falls' if all(a > b for a, b in zip(ratios, ratios[1:])) else 'does not fall'} as resolution grows)\n")
    for batch, (length, fwd, train, mem) in speedups.items():
        print(f"ratio scan_speedup_b{batch}_L{length} = {fwd:.1f} (target >= 20 at L 4096)")
        if train is not None:
            print(f"ratio scan_train_speedup_b{batch}_L{length} = {train:.1f} (forward + backward; no target)")
        print(f"ratio scan_peak_memory_b{batch}_L{length} = {mem:.2f} (chunked / reference; report)")
    print(f"ratio vmamba_vit_time_{sizes[-1]}_over_{sizes[0]} = {ratios[-1] / ratios[0]:.3f} (target < 1: linear vs quadratic)")


if __name__ == "__main__":
    main()
