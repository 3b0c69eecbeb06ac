"""SPARC vs CLIP (and the all-pairs FILIP loss): training step time, FLOPs and loss memory.

The paper (Table 11) reports SPARC's cost over CLIP as +0.5% FLOPs and +0.5% memory at
B = 16k, while FILIP's all-pairs loss grows with B. Here all three objectives train the
same tiny dual encoder on the same scene batches, interleaved in one run, on this machine:

    python benchmarks/sparc.py            # B in {64, 128, 256}, 20 timed steps each
    python benchmarks/sparc.py --quick    # B in {64, 128}, 8 timed steps

Ends with one line per ratio: `ratio <name> = <value> (target <= <x>)`.
Peak memory on CPU is the analytic size of each loss's largest tensor (B L P floats for
SPARC, B^2 L P for FILIP); on a GPU, torch.cuda.max_memory_allocated of the whole step.
"""

import argparse
import statistics
import time

import torch
from torch.utils.flop_counter import FlopCounterMode

from paperzoo.sparc import SparcModel, config, filip_loss, global_loss
from paperzoo.sparc.data import WorldData
from paperzoo.sparc.train import world_scene_config


def filip_objective(model, images, ids, mask):
    """FILIP-trained dual encoder: L = lambda_g L_g + lambda_f L_FILIP (same weights as SPARC)."""
    out = model(images, ids, mask)
    c = model.config
    l_g = global_loss(out["v_global"], out["t_global"], model.logit_scale())
    return c.lambda_global * l_g + c.lambda_fine * filip_loss(out["v_patches"], out["t_tokens"], mask, model.logit_scale())


def make(kind: str, device: str):
    torch.manual_seed(0)
    base = config("tiny")
    model = SparcModel(base.clip() if kind == "clip" else base).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    if kind == "filip":
        loss = lambda b: filip_objective(model, b["images"], b["token_ids"], b["token_mask"])  # noqa: E731
    else:
        loss = lambda b: model.loss(b["images"], b["token_ids"], b["token_mask"])["loss"]  # noqa: E731

    def step(batch):
        opt.zero_grad(set_to_none=True)
        loss(batch).backward()
        opt.step()

    return model, step


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer batch sizes and steps (a few minutes on 2 cores)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args()
    sizes = [64, 128] if args.quick else [64, 128, 256]
    reps = 8 if args.quick else 20
    kinds = ["clip", "sparc", "filip"]
    c = config("tiny")
    L, P = c.text.context_length, c.vision.num_patches
    print(f"device={args.device} threads={torch.get_num_threads()} tiny config: P={P}, L={L}, d={c.embed_dim}")
    print(f"{'B':>5} {'objective':>9} {'step ms':>9} {'GFLOP/step':>11} {'loss tensor MB':>15}")
    results = {}
    for B in sizes:
        data = WorldData(world_scene_config(c), 0, B, L)
        batch = {k: v.to(args.device) for k, v in data(0).items()}
        runners = {k: make(k, args.device) for k in kinds}
        for kind, (model, step) in runners.items():
            with FlopCounterMode(display=False) as counter:
                step(batch)
            results[B, kind] = {"flops": counter.get_total_flops(), "times": []}
            step(batch)  # warm-up
        for _ in range(reps):  # interleave so that machine drift hits every objective alike
            for kind, (model, step) in runners.items():
                if args.device.startswith("cuda"):
                    torch.cuda.synchronize()
                t = time.perf_counter()
                step(batch)
                if args.device.startswith("cuda"):
                    torch.cuda.synchronize()
                results[B, kind]["times"].append(time.perf_counter() - t)
        for kind in kinds:
            r = results[B, kind]
            r["ms"] = 1e3 * statistics.median(r["times"])
            r["loss_mb"] = 4 * {"clip": B * B, "sparc": B * L * P, "filip": B * B * L * P}[kind] / 2**20
            print(f"{B:>5} {kind:>9} {r['ms']:>9.1f} {r['flops'] / 1e9:>11.2f} {r['loss_mb']:>15.2f}")
    print()
    B0 = 128
    for B in sizes:
        print(f"ratio sparc_clip_flops_B{B} = {results[B, 'sparc']['flops'] / results[B, 'clip']['flops']:.4f} (target <= 1.05)")
    for B in sizes:
        print(f"ratio filip_clip_flops_B{B} = {results[B, 'filip']['flops'] / results[B, 'clip']['flops']:.4f} (target >= 1.0)")
    print(f"ratio filip_loss_memory_B{sizes[-1]}_over_B{sizes[0]} = "
          f"{results[sizes[-1], 'filip']['loss_mb'] / results[sizes[0], 'filip']['loss_mb']:.1f} (target >= {(sizes[-1] / sizes[0]) ** 2 - 0.5:.1f})")
    print(f"ratio filip_sparc_step_time_B{B0} = {results[B0, 'filip']['ms'] / results[B0, 'sparc']['ms']:.3f} (target >= 1.0)")
    print(f"ratio sparc_clip_step_time_B{B0} = {results[B0, 'sparc']['ms'] / results[B0, 'clip']['ms']:.3f} (target <= 1.10)")


if __name__ == "__main__":
    main()
