"""FreGrad's cost against its PriorGrad baseline, side by side in one run (issue 6, §4.2, Table 1).

All on the CPU, 2 threads, untrained weights (cost does not depend on the weights):

1. Inference: the real-time factor (seconds of compute / seconds of audio) of the 50-step
   sampler (`vocode`) on the mel of a speech-world clip, and the network's forward alone per
   step, for the paper's configs (FreGrad 1.78M vs PriorGrad 2.62M parameters) and the tiny
   CPU configs. The paper reports RTF 11.95 vs 29.20 on a CPU (0.41) and 0.29 vs 0.65 on a
   GPU (0.45): FreGrad runs its 50 steps on two half-length Haar sub-bands with half the
   channels. Target: FreGrad / PriorGrad <= 0.5.
2. Training: one Adam step with each model's own loss (FreGrad: prior MSE + multi-resolution
   magnitude loss; PriorGrad: prior MSE) at the same batch: 4 x 62 frames (paper configs),
   8 x 32 frames (tiny configs). Target <= 0.8.
3. Peak extra resident memory of one training step (a fresh process each), and the
   parameter ratio (paper: 0.680).
4. Freq-DConv's folded fast path vs its literal DWT -> conv -> iDWT reference: a tiny-fregrad
   training step with each (target <= 1.0), and the two paths' outputs and gradients compared.

Repetitions of the two sides alternate (ABBA order, after a warm-up); the best time is the
ratio's, the median is printed beside it.

    python benchmarks/fregrad.py            # ~2 s clip, more repeats (under ~10 minutes on 2 cores)
    python benchmarks/fregrad.py --quick    # 1 s clip, fewer repeats (a few minutes)

Ends with one line per ratio: `ratio <name> = <value> (target <= <x>)`.
"""

import argparse
import copy
import os
import statistics
import time

import torch

from paperzoo.core.measure import interleaved, peak_rss_mib
from paperzoo.fregrad.audio import mel_spectrogram
from paperzoo.fregrad.data import crop_audio, mel_config, training_batch, world_corpus
from paperzoo.fregrad.freq_dconv import FreqDConv
from paperzoo.fregrad.model import Vocoder, parameter_count
from paperzoo.fregrad.prior import EnergyStats
from paperzoo.fregrad.train import diffusion_loss
from paperzoo.fregrad.vocode import vocode

STATS = EnergyStats(0.0283, 4.0)
HOP, SAMPLE_RATE = 256, 22050
PAIRS = {"paper": ("fregrad", "priorgrad"), "tiny": ("tiny-fregrad", "tiny-priorgrad")}
TRAIN_BATCH = {"paper": (4, 62), "tiny": (8, 32)}  # (batch, crop frames)
LR = 2e-4


def train_step(model, optimizer, batch) -> None:
    optimizer.zero_grad(set_to_none=True)
    diffusion_loss(model, batch)["loss"].backward()
    optimizer.step()


def _train_setup(name: str, batch_size: int, crop_frames: int):
    torch.manual_seed(0)
    model = Vocoder(name).train()
    return model, torch.optim.Adam(model.parameters(), lr=LR), make_batch_config(model.config, batch_size, crop_frames)


def make_batch_config(config, batch_size: int, crop_frames: int) -> dict:
    audio = crop_audio(world_corpus("eval", 0), 0, batch_size, crop_frames, HOP, seed=0)
    return {**training_batch(audio, config, STATS), "config": config}


def _train_run(state) -> None:
    train_step(*state)


def speech_clip(frames: int):
    """The first eval clip of the speech world with at least `frames` frames, cut to `frames` (or the longest)."""
    corpus = world_corpus("eval", 0)
    clips = [corpus.clip(i) for i in range(len(corpus))]
    long_enough = [c for c in clips if len(c) >= frames * HOP]
    clip = long_enough[0] if long_enough else max(clips, key=len)
    frames = min(frames, len(clip) // HOP)
    return torch.from_numpy(clip[: frames * HOP].copy()), frames


def fmt(seconds: float) -> str:
    return f"{seconds * 1e3:.0f} ms" if seconds < 10 else f"{seconds:.1f} s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (default 2, the house setting)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    quick = args.quick
    load = os.getloadavg()[0]
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, float32, CPU{' (quick)' if quick else ''}; "
          f"load average {load:.1f} on {os.cpu_count()} cores at start")
    if load > 0.5 * (os.cpu_count() or 1):
        print("WARNING: the CPU is busy; with threads competing for cores, small ops slow down by up to 20x "
              "and the ratios are unreliable (try --threads 1 or an idle machine).")
    print("FreGrad vs PriorGrad: 50-step sampling RTF and the forward per step, training step time, peak memory,")
    print("parameters, and Freq-DConv's folded fast path vs its literal reference. The paper (Table 1): RTF 11.95 vs")
    print("29.20 on a CPU (ratio 0.41), 0.29 vs 0.65 on a GPU (0.45); 1.78M vs 2.62M parameters (0.68).\n", flush=True)
    wall = time.perf_counter()
    ratios = {}

    # --- parameters -----------------------------------------------------------------------------
    print("| pair | FreGrad params | PriorGrad params | ratio |")
    print("| --- | --- | --- | --- |")
    for pair, (fg, pg) in PAIRS.items():
        a, b = parameter_count(fg), parameter_count(pg)
        print(f"| {pair} ({fg} / {pg}) | {a:,} | {b:,} | {a / b:.3f} |")
        if pair == "paper":
            ratios["params_fregrad_over_priorgrad_paper"] = (a / b, "0.7", 3)
    print(flush=True)

    # --- Freq-DConv: folded fast path vs the literal reference ------------------------------------
    torch.manual_seed(0)
    folded = Vocoder("tiny-fregrad").train()
    with torch.no_grad():  # the zero-initialised output layer would hide any difference
        torch.nn.init.normal_(folded.output_projection.weight, std=0.1)
    reference = copy.deepcopy(folded)
    for m in reference.modules():
        if isinstance(m, FreqDConv):
            m.reference = True
    batch = make_batch_config(folded.config, *TRAIN_BATCH["tiny"])
    g = torch.Generator().manual_seed(1)
    x_t = batch["x0"] + 0.5 * torch.randn(batch["x0"].shape, generator=g)
    t = torch.randint(0, folded.config.steps, (x_t.shape[0],), generator=g)
    probe = torch.randn(x_t.shape, generator=g)
    outs, grads = [], []
    for model in (folded, reference):
        model.zero_grad(set_to_none=True)
        out = model(x_t, batch["mel"], t)
        (out * probe).sum().backward()
        outs.append(out.detach())
        grads.append(torch.cat([p.grad.flatten() for p in model.parameters()]))
    out_diff = (outs[0] - outs[1]).abs().max().item()
    grad_diff = (grads[0] - grads[1]).abs().max().item()
    grad_scale = grads[1].abs().max().item()
    print(f"Freq-DConv folded vs reference (tiny-fregrad, batch {TRAIN_BATCH['tiny'][0]} x {TRAIN_BATCH['tiny'][1]} frames): "
          f"output max |diff| {out_diff:.2e} (output max {outs[1].abs().max().item():.2f}), "
          f"gradient max |diff| {grad_diff:.2e} (gradient max {grad_scale:.2e})", flush=True)
    opts = {k: torch.optim.Adam(m.parameters(), lr=LR) for k, m in (("folded", folded), ("reference", reference))}
    models = {"folded": folded, "reference": reference}
    torch.manual_seed(0)
    times = interleaved({k: (lambda k=k: train_step(models[k], opts[k], batch)) for k in models}, 3 if quick else 8, warmup=1)
    tf, tr = min(times["folded"]), min(times["reference"])
    print(f"Freq-DConv training step: folded {fmt(tf)} (median {fmt(statistics.median(times['folded']))}), "
          f"reference {fmt(tr)} (median {fmt(statistics.median(times['reference']))}), ratio {tf / tr:.3f}\n", flush=True)
    ratios["freq_dconv_folded_over_reference_step"] = (tf / tr, "1.0", 3)

    # --- training step ----------------------------------------------------------------------------
    print("Training step (one Adam step, each model's own loss):", flush=True)
    train_rows = []
    for pair in ("tiny", "paper"):
        fg, pg = PAIRS[pair]
        bs, frames = TRAIN_BATCH[pair]
        torch.manual_seed(0)
        models = {fg: Vocoder(fg).train(), pg: Vocoder(pg).train()}
        opts = {k: torch.optim.Adam(m.parameters(), lr=LR) for k, m in models.items()}
        batches = {k: make_batch_config(m.config, bs, frames) for k, m in models.items()}
        repeats = {"tiny": 3 if quick else 8, "paper": 2 if quick else 4}[pair]
        times = interleaved({k: (lambda k=k: train_step(models[k], opts[k], batches[k])) for k in models}, repeats,
                            warmup=1, progress=pair == "paper")
        a, b = min(times[fg]), min(times[pg])
        train_rows.append((pair, bs, frames, fg, pg, a, b, statistics.median(times[fg]), statistics.median(times[pg])))
        ratios[f"train_step_fregrad_over_priorgrad_{pair}"] = (a / b, "0.8", 3)
        print(f"  {pair}: {fg} {fmt(a)}, {pg} {fmt(b)}, ratio {a / b:.3f}", flush=True)
    print("\n| pair | batch | FreGrad step | PriorGrad step | ratio | medians |")
    print("| --- | --- | --- | --- | --- | --- |")
    for pair, bs, frames, fg, pg, a, b, ma, mb in train_rows:
        print(f"| {pair} | {bs} x {frames} frames | {fmt(a)} | {fmt(b)} | {a / b:.3f} | {fmt(ma)} / {fmt(mb)} |")
    print(flush=True)

    # --- peak memory of a training step -------------------------------------------------------------
    print("Peak extra resident memory of one training step (fresh process each):", flush=True)
    mem_rows = []
    for pair in ("tiny", "paper"):
        fg, pg = PAIRS[pair]
        bs, frames = TRAIN_BATCH[pair]
        a = peak_rss_mib(_train_setup, _train_run, fg, bs, frames)
        b = peak_rss_mib(_train_setup, _train_run, pg, bs, frames)
        mem_rows.append((pair, bs, frames, a, b))
        if pair == "paper":
            ratios["peak_memory_fregrad_over_priorgrad_paper"] = (a / max(b, 1e-3), "1.0", 3)
    print("\n| pair | batch | FreGrad | PriorGrad | ratio |")
    print("| --- | --- | --- | --- | --- |")
    for pair, bs, frames, a, b in mem_rows:
        print(f"| {pair} | {bs} x {frames} frames | {a:.0f} MiB | {b:.0f} MiB | {a / max(b, 1e-3):.3f} |")
    print(flush=True)

    # --- inference: forward per step and the 50-step sampler ----------------------------------------
    audio, frames = speech_clip(86 if quick else 172)
    seconds = frames * HOP / SAMPLE_RATE
    print(f"Inference on a speech-world eval clip: {frames} frames = {seconds:.2f} s of audio, batch 1, no grad:", flush=True)
    infer_rows = []
    for pair in ("tiny", "paper"):
        fg, pg = PAIRS[pair]
        torch.manual_seed(0)
        models = {fg: Vocoder(fg).eval(), pg: Vocoder(pg).eval()}
        mels = {k: mel_spectrogram(audio, mel_config(m.config)) for k, m in models.items()}
        inputs = {k: (torch.randn(1, m.config.bands, frames * HOP // m.config.bands), mels[k][None], torch.tensor([25]))
                  for k, m in models.items()}

        def forward(k):
            with torch.no_grad():
                models[k](*inputs[k])

        step = interleaved({k: (lambda k=k: forward(k)) for k in models}, 3 if quick else 5, warmup=1)
        outs = {}

        def sample(k):
            outs[k] = vocode(models[k], mels[k], STATS, seed=0)

        repeats = {"tiny": 2 if quick else 3, "paper": 1}[pair]
        full = interleaved({k: (lambda k=k: sample(k)) for k in models}, repeats, warmup=0, progress=True)
        for k, wav in outs.items():
            assert wav.shape == (frames * HOP,) and torch.isfinite(wav).all(), (k, tuple(wav.shape))
        a, b = min(full[fg]), min(full[pg])
        infer_rows.append((pair, fg, pg, min(step[fg]), min(step[pg]), a, b))
        ratios[f"rtf_fregrad_over_priorgrad_{pair}"] = (a / b, "0.5", 3)
        print(f"  {pair}: RTF {fg} {a / seconds:.2f}, {pg} {b / seconds:.2f}, ratio {a / b:.3f}", flush=True)
    print("\n| pair | FreGrad forward / step | PriorGrad forward / step | per-step ratio | FreGrad 50 steps | "
          "PriorGrad 50 steps | FreGrad RTF | PriorGrad RTF | RTF ratio | share outside 50 forwards (FreGrad / PriorGrad) |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for pair, fg, pg, sa, sb, a, b in infer_rows:
        print(f"| {pair} | {fmt(sa)} | {fmt(sb)} | {sa / sb:.3f} | {fmt(a)} | {fmt(b)} | {a / seconds:.2f} | {b / seconds:.2f} | "
              f"{a / b:.3f} | {max(a - 50 * sa, 0) / a:.0%} / {max(b - 50 * sb, 0) / b:.0%} |")
    print(f"\nwall time {time.perf_counter() - wall:.0f} s\n")

    order = ("rtf_fregrad_over_priorgrad_paper", "rtf_fregrad_over_priorgrad_tiny", "train_step_fregrad_over_priorgrad_paper",
             "train_step_fregrad_over_priorgrad_tiny", "params_fregrad_over_priorgrad_paper",
             "peak_memory_fregrad_over_priorgrad_paper", "freq_dconv_folded_over_reference_step")
    for name in order:
        value, target, digits = ratios[name]
        print(f"ratio {name} = {value:.{digits}f} (target <= {target})")


if __name__ == "__main__":
    main()
