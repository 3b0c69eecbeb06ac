"""VMamba's cost, side by side in one run (issue 5, card §5).

1. The selective scan (VMamba-T stage-1 channels: K D_i = 4 x 96, N = 1), batch 1 and 8:
   the step-by-step reference, the chunked pure-PyTorch scan and the fused C++ kernel
   (issue 21), forward and forward + backward (what training sees), with peak memory and the
   Eq. 5 "kernel" form beside them. Targets at L = 4096: the fused forward >= 25x the
   reference and >= 2x the chunked scan; forward + backward >= 2x the chunked scan.
2. The fused forward's memory traffic (inputs read once, output written once) against this
   machine's measured copy bandwidth: the limit of a memory-bound scan.
3. `torch.compile` of the chunked scan beside it (full run only: the compile takes ~30 s).
4. VMamba-T (with the default scan) vs a ViT of about the same parameters (width 448, depth
   12, patch 16), forward time at 224, 512 and 768 px: the VMamba / ViT time ratio should
   fall as resolution grows (linear vs quadratic token mixing), printed with the analytic FLOPs.

    python benchmarks/vmamba.py            # all of it (a few minutes on 2 cores)
    python benchmarks/vmamba.py --quick    # L = 4096 only; resolutions 224, 384

Ends with one line per ratio: `ratio <name> = <value> (target ...)`. The official code's
pure-torch path is compared in benchmarks/vmamba_official.py (it needs a local checkout).
"""

import argparse

import torch
from torch import nn

from paperzoo.core.measure import best_of, peak_rss_mib
from paperzoo.vmamba import create_model
from paperzoo.vmamba.flops import flops
from paperzoo.vmamba.scan import resolve_backend, selective_scan, selective_scan_chunked, selective_scan_ref


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


def _fused(*args):
    return selective_scan(*args, backend="fused")


def _run_fused(args) -> None:
    with torch.no_grad():
        _fused(*args)


def copy_bandwidth(mib: int = 256) -> float:
    """Bytes per second of a large tensor copy (read + write), the best of 5."""
    src = torch.randn(mib * 2**18)
    dst = torch.empty_like(src)
    return 2 * src.numel() * 4 / best_of(lambda: dst.copy_(src), 5)


def scan_bytes(args) -> int:
    """What a fused forward must move: every input read once, y written once."""
    return sum(t.numel() * t.element_size() for t in args) + args[0].numel() * args[0].element_size()


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
    copy = copy_bandwidth()

    fused = resolve_backend("auto", torch.zeros(1)) == "fused"
    print(f"scan backend 'auto' runs: {'fused (compiled C++)' if fused else 'chunked (no compiler: the fallback)'}\n")
    print("| batch | L | reference | chunked | fused | fused / ref | fused / chunked | fwd+bwd chunked | fwd+bwd fused "
          "| fused / chunked | Eq. 5 kernel | peak MiB ref / chunked / fused |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    ratios_out = []
    for batch in (1, 8):
        for length in (4096,) if args.quick else (256, 1024, 4096):
            inputs = scan_inputs(length, batch)
            t_ref = best_of(lambda: _run_ref(inputs), 1 if length > 1024 else 3)
            t_chunk = best_of(lambda: _run_chunked(inputs), 10)
            t_kernel = best_of(lambda: _run_kernel(inputs), 1)
            b_chunk = best_of(lambda: _train_step(selective_scan_chunked, inputs), 3)
            mem = [peak_rss_mib(scan_inputs, run, length, batch) for run in (_run_ref, _run_chunked)]
            t_fused = b_fused = float("nan")
            if fused:
                t_fused = best_of(lambda: _run_fused(inputs), 10)
                b_fused = best_of(lambda: _train_step(_fused, inputs), 3)
                mem.append(peak_rss_mib(scan_inputs, _run_fused, length, batch))
            print(f"| {batch} | {length} | {t_ref * 1e3:.0f} ms | {t_chunk * 1e3:.1f} ms | {t_fused * 1e3:.1f} ms | "
                  f"{t_ref / t_fused:.1f}x | {t_chunk / t_fused:.2f}x | {b_chunk * 1e3:.1f} ms | {b_fused * 1e3:.1f} ms | "
                  f"{b_chunk / b_fused:.2f}x | {t_kernel * 1e3:.0f} ms | {' / '.join(f'{m:.0f}' for m in mem)} |", flush=True)
            if length == 4096 and fused:
                gbs = scan_bytes(inputs) / t_fused / 1e9
                ratios_out += [
                    f"ratio scan_fused_over_reference_b{batch}_L4096 = {t_ref / t_fused:.1f} (target >= 25)",
                    f"ratio scan_fused_over_chunked_b{batch}_L4096 = {t_chunk / t_fused:.2f} (target >= 2)",
                    f"ratio scan_fused_over_chunked_train_b{batch}_L4096 = {b_chunk / b_fused:.2f} (target >= 2)",
                    f"ratio scan_fused_bandwidth_fraction_b{batch}_L4096 = {gbs * 1e9 / copy:.3f} "
                    f"({gbs:.1f} GB/s of the {copy / 1e9:.1f} GB/s copy bandwidth; report)",
                ]
            if length == 4096:
                ratios_out.append(f"ratio scan_chunked_over_reference_b{batch}_L4096 = {t_ref / t_chunk:.1f} (the fallback; report)")

    if not args.quick:
        inputs = scan_inputs(4096, 1)
        compiled = torch.compile(selective_scan_chunked)
        with torch.no_grad():
            compiled(*inputs)  # compile
            t_comp = best_of(lambda: compiled(*inputs), 10)
            t_chunk = best_of(lambda: selective_scan_chunked(*inputs), 10)
        print(f"\ntorch.compile(chunked scan), batch 1, L 4096: {t_comp * 1e3:.1f} ms vs eager {t_chunk * 1e3:.1f} ms")
        ratios_out.append(f"ratio scan_compiled_chunked_over_chunked_b1_L4096 = {t_chunk / t_comp:.2f} (speed-up; report)")

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
    print("\n".join(ratios_out))
    print(f"ratio vmamba_vit_time_{sizes[0]} = {ratios[0]:.2f} (VMamba-T / ViT forward; report)")
    print(f"ratio vmamba_vit_time_{sizes[-1]}_over_{sizes[0]} = {ratios[-1] / ratios[0]:.3f} (target < 1: linear vs quadratic)")


if __name__ == "__main__":
    main()
