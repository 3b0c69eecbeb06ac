"""The small-scale experiment for FreGrad's claims (card §5), on the speech world.

tiny-FreGrad (C 16, 12 blocks, 260,788 parameters) and tiny-PriorGrad (C 32, 12 blocks,
360,899) trained identically: same seed, same crops in the same order, Adam 2e-4, batch 8
of 32-frame crops, 1,500 steps, 2 seeds; one-seed ablations of FreGrad (Table 2): without
Freq-DConv, with PriorGrad's single prior, with the linear schedule, without L_mag. Every
model vocodes the 16 held-out sentences from their ground-truth mels at T = 50 and is scored
with Table 1's metrics; the real-time factor and the training step time are measured in the
same process, one model after the other.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import torch

from paperzoo.core.atomic import atomic_path
from paperzoo.core.report import Claim, SystemReport
from paperzoo.fregrad.audio import mel_spectrogram
from paperzoo.fregrad.config import config
from paperzoo.fregrad.data import Corpus, corpus_stats, mel_config, world_corpus
from paperzoo.fregrad.evaluate import METRICS, evaluate, prior_noise_scores
from paperzoo.fregrad.model import Vocoder, parameter_count
from paperzoo.fregrad.plots import loss_figure, mel_figure, metric_bars
from paperzoo.fregrad.train import TINY_TRAIN, TrainConfig, train
from paperzoo.fregrad.vocode import vocode

TITLE = "FreGrad: lightweight and fast frequency-aware diffusion vocoder"
FULL = replace(TINY_TRAIN, checkpoint_every=0)
QUICK = replace(FULL, steps=60)
EVAL_COUNT = 16
MAIN = ("tiny-fregrad", "tiny-priorgrad")
ABLATIONS = {"tiny-fregrad-no-dconv": "w/o Freq-DConv", "tiny-fregrad-single-prior": "w/o separate prior",
             "tiny-fregrad-linear": "w/o zero SNR", "tiny-fregrad-no-mag": "w/o L_mag"}
TABLE2 = {"tiny-fregrad-no-dconv": "CMOS -1.34, F0 39.05, RTF 0.18", "tiny-fregrad-single-prior": "CMOS -0.26, F0 38.91",
          "tiny-fregrad-linear": "CMOS -0.69, F0 39.17", "tiny-fregrad-no-mag": "CMOS -0.68, F0 39.82"}


def run_one(name: str, seed: int, budget: TrainConfig, folder: Path, train_corpus: Corpus, eval_corpus: Corpus,
            eval_count: int = EVAL_COUNT, device: str = "cpu") -> dict:
    """Train (cached in folder/model + result.json, keyed by every setting and the data) and score one run."""
    cfg = config(name)
    data_key = hashlib.sha256("".join(train_corpus.names + eval_corpus.names).encode())
    for c in (train_corpus.clips or []) + (eval_corpus.clips or []):
        data_key.update(c[:: 97].tobytes())
    key = hashlib.sha256(json.dumps([asdict(cfg), seed, asdict(budget), eval_count, data_key.hexdigest()],
                                    sort_keys=True).encode()).hexdigest()[:16]
    result_path = folder / "result.json"
    if result_path.is_file():
        cached = json.loads(result_path.read_text())
        if cached.get("key") == key:
            return cached
    stats = corpus_stats(train_corpus, cfg, progress=False)
    start = time.perf_counter()
    model, history = train(cfg, train_corpus, folder, seed, device, budget, stats=stats, progress=False,
                           desc=f"{name} seed {seed}")
    seconds = time.perf_counter() - start
    scores = evaluate(model.cpu(), eval_corpus, stats, n=eval_count, seed=1000 + seed)
    result = {"key": key, "config": name, "seed": seed, "history": history, "train_seconds": seconds,
              "step_seconds": seconds / budget.steps, "parameters": parameter_count(cfg), **scores}
    with atomic_path(result_path) as tmp:
        tmp.write_text(json.dumps(result, indent=1))
    return result


def _mean(runs: list[dict], key: str) -> float:
    vals = [r[key] for r in runs if np.isfinite(r[key])]
    return float(np.mean(vals)) if vals else float("nan")


def run(out_dir: str | Path = "reproduction", quick: bool = False, device: str = "cpu", seed: int = 0) -> SystemReport:
    out = Path(out_dir) / "fregrad"
    budget, seeds = (QUICK, (seed,)) if quick else (FULL, (seed, seed + 1))
    eval_count = 4 if quick else EVAL_COUNT
    train_corpus, eval_corpus = world_corpus("train", 0), world_corpus("eval", 0)

    def runs(name, which):
        return [run_one(name, s, budget, out / "runs" / f"{name}-seed{s}", train_corpus, eval_corpus, eval_count, device)
                for s in which]

    results = {name: runs(name, seeds) for name in MAIN}
    ablations = {} if quick else {name: runs(name, seeds[:1]) for name in ABLATIONS}
    stats = corpus_stats(train_corpus, config("tiny-fregrad"), progress=False)
    floor = prior_noise_scores(config("tiny-fregrad"), eval_corpus, stats, n=eval_count, seed=1000 + seed)
    floor_pg = prior_noise_scores(config("tiny-priorgrad"), eval_corpus, stats, n=eval_count, seed=1000 + seed)

    # the demo figure: one held-out sentence, ground truth and both vocoders (seed 0 models)
    clip = torch.from_numpy(eval_corpus.clip(0))
    mc = mel_config(config("tiny-fregrad"))
    mels = {"ground truth": mel_spectrogram(clip, mc).numpy()}
    for name in MAIN:
        model = Vocoder.from_pretrained(out / "runs" / f"{name}-seed{seeds[0]}" / "model")
        mels[name] = mel_spectrogram(vocode(model, torch.from_numpy(mels["ground truth"]), model.prior_stats, seed=7), mc).numpy()
    plots = [mel_figure(mels, out / "mels.png"),
             loss_figure({n: [r["history"] for r in rs] for n, rs in {**results, **ablations}.items()}, out / "losses.png"),
             metric_bars({**results, **ablations}, METRICS, out / "metrics.png", floor)]

    fg, pg = results["tiny-fregrad"], results["tiny-priorgrad"]
    m = {k: (_mean(fg, k), _mean(pg, k)) for k in (*METRICS, "rtf", "step_seconds")}
    seeds_of = lambda rs, k: ", ".join(f"{r[k]:.3f}" for r in rs)  # noqa: E731
    p_full, p_tiny = parameter_count("fregrad") / parameter_count("priorgrad"), parameter_count("tiny-fregrad") / parameter_count("tiny-priorgrad")
    claims = [
        Claim("fewer parameters than PriorGrad", "1.78M vs 2.62M (x0.68)",
              f"paper configs x{p_full:.3f} (exact counts); tiny x{p_tiny:.3f}", p_full < 1 and p_tiny < 1),
        Claim("faster inference (real-time factor, CPU, T = 50)", "RTF 11.95 vs 29.20 CPU (x0.41), 0.29 vs 0.65 GPU",
              f"{m['rtf'][0]:.3f} vs {m['rtf'][1]:.3f} (x{m['rtf'][0] / m['rtf'][1]:.2f})", m["rtf"][0] < m["rtf"][1]),
        Claim("faster training (time per step, same batch)", "46 vs 170 GPU-hours to 1M steps (x0.27)",
              f"{m['step_seconds'][0] * 1e3:.0f} vs {m['step_seconds'][1] * 1e3:.0f} ms/step "
              f"(x{m['step_seconds'][0] / m['step_seconds'][1]:.2f})", m["step_seconds"][0] < m["step_seconds"][1]),
        Claim("quality not worse: MR-STFT <= 1.1 x PriorGrad (card's gate)", "MR-STFT 1.12 vs 1.14",
              f"{m['mr_stft'][0]:.3f} ({seeds_of(fg, 'mr_stft')}) vs {m['mr_stft'][1]:.3f} ({seeds_of(pg, 'mr_stft')})",
              m["mr_stft"][0] <= 1.1 * m["mr_stft"][1]),
        Claim("both beat prior noise (MR-STFT)", "card §5 sanity check",
              f"{m['mr_stft'][0]:.3f} / {m['mr_stft'][1]:.3f} vs noise {floor['mr_stft']:.3f} / {floor_pg['mr_stft']:.3f}",
              m["mr_stft"][0] < floor["mr_stft"] and m["mr_stft"][1] < floor_pg["mr_stft"]),
        Claim("lower log-mel MAE", "0.45 vs 0.47", f"{m['mae'][0]:.3f} vs {m['mae'][1]:.3f}", m["mae"][0] < m["mae"][1]),
        Claim("lower MCD13", "2.19 vs 2.22", f"{m['mcd13'][0]:.3f} vs {m['mcd13'][1]:.3f} dB", m["mcd13"][0] < m["mcd13"][1]),
        Claim("lower F0 RMSE", "38.73 vs 40.42", f"{m['f0_rmse'][0]:.2f} vs {m['f0_rmse'][1]:.2f} Hz",
              None if not np.isfinite(m["f0_rmse"]).all() else bool(m["f0_rmse"][0] < m["f0_rmse"][1]),
              "" if np.isfinite(m["f0_rmse"]).all() else "no frame voiced in both output and reference: the outputs "
              "carry no pitch yet at this scale"),
    ]
    if ablations:
        base = fg[:1]  # the same seed as the ablations
        for name, label in ABLATIONS.items():
            a = ablations[name]
            worse = _mean(a, "mr_stft") > _mean(base, "mr_stft")
            extra = f", RTF x{_mean(a, 'rtf') / _mean(base, 'rtf'):.2f}" if name.endswith("no-dconv") else ""
            claims.append(Claim(f"ablation {label}: worse MR-STFT than FreGrad (report only)", f"T2: {TABLE2[name]}",
                                f"MR-STFT {_mean(a, 'mr_stft'):.3f} vs {_mean(base, 'mr_stft'):.3f}; F0 RMSE "
                                f"{_mean(a, 'f0_rmse'):.2f} vs {_mean(base, 'f0_rmse'):.2f}{extra}", worse))
    rows = ["| model | parameters | MR-STFT | log-mel MAE | MCD13 (dB) | F0 RMSE (Hz) | RTF | ms / step |",
            "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for name, rs in {**results, **ablations}.items():
        rows.append(f"| {name} | {rs[0]['parameters']:,} | " + " | ".join(f"{_mean(rs, k):.3f}" for k in METRICS)
                    + f" | {_mean(rs, 'rtf'):.3f} | {_mean(rs, 'step_seconds') * 1e3:.0f} |")
    for label, f in (("prior noise (FreGrad's Σ, iDWT)", floor), ("prior noise (PriorGrad's Σ)", floor_pg)):
        rows.append(f"| {label} | - | " + " | ".join(f"{f[k]:.3f}" for k in METRICS) + " | - | - |")
    setup = (f"tiny-FreGrad vs tiny-PriorGrad on the speech world ({len(train_corpus)} espeak-ng sentences, or the "
             f"procedural fallback; {eval_count} held-out sentences), Adam {budget.lr}, batch {budget.batch_size} of "
             f"{budget.crop_frames}-frame crops, {budget.steps} steps, seeds {list(seeds)}; ablations one seed; copy "
             f"synthesis from ground-truth mels at T = 50; CPU, {torch.get_num_threads()} threads."
             + (" QUICK run: too short to read anything into." if quick else ""))
    rel = lambda p: str(Path(p).relative_to(Path(out_dir)))  # noqa: E731
    return SystemReport("fregrad", TITLE, "2401.10032", "paperzoo fregrad reproduce" + (" --quick" if quick else ""),
                        claims=claims, plots=[rel(p) for p in plots], setup=setup, tables=["\n".join(rows)])
