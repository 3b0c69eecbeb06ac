"""The small-scale experiment for WorldDreamer's claims (card §5, runs R1-R5), on the video world.

Per seed, each model a cached unit (`models.py`; an interrupted run resumes):
- R1 the tokenizer: reconstruction PSNR, codebook usage, the reconstruction's trajectory ADE;
- the STPT (the tiny config), and beside it, trained on the same tokens for the same steps:
  - R2 the same STPT with full attention (s = 1);
  - R5 the STPT with the other mask modes;
  - R3 a same-size causal transformer (Fig. 4's autoregressive route);
- a tiny video classifier (caption accuracy, FVD-lite).

Then one evaluation unit per seed on the held-out clips (the same for every seed):
- R2: attention FLOPs (counted) and the time of one training step of each, the held-out
  masked-token CE (Eq. 5) of each at equal steps, and the code prior's CE;
- R3: video prediction (the first `context` frames given) decoded in parallel with T in
  `decode_steps`, token by token with the same model (on `tbt_clips` clips), and by the causal
  transformer with a KV cache: forward passes (counted), seconds, ADE;
- R4: the five tasks with beta in `betas`: text-to-video (caption accuracy, motion accuracy,
  FVD-lite, per-frame CMMD from `paperzoo.cmmd`), image-to-video and video prediction (ADE
  against copying the last given frame), action-to-video (the clip's frame 0 with its own
  actions and with the opposite ones: sign agreement), inpainting (ADE over every frame,
  against filling the region with background) and unconditional (FVD-lite);
- R5: video prediction ADE and CE of each mask mode.

Claims are decided by `core.verdict` on the per-seed numbers.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from tqdm.auto import tqdm  # noqa: E402

from paperzoo.core.measure import interleaved  # noqa: E402
from paperzoo.core.report import Claim, SystemReport, save_figure  # noqa: E402
from paperzoo.core.runcache import cached_run  # noqa: E402
from paperzoo.core.verdict import better, deterministic, equivalent, spread, unmeasured  # noqa: E402
from paperzoo.world.videos import VideoConfig  # noqa: E402
from paperzoo.worlddreamer.autoregressive import CausalVideoTransformer  # noqa: E402
from paperzoo.worlddreamer.classifier import VideoClassifier, caption_accuracy, chance_rates, fvd_lite  # noqa: E402
from paperzoo.worlddreamer.config import WorldDreamerConfig, config as get_config  # noqa: E402
from paperzoo.worlddreamer.decoding import parallel_decode, token_by_token_decode  # noqa: E402
from paperzoo.worlddreamer.evaluate import (  # noqa: E402
    action_sign_agreement, copy_first_frame, masked_token_ce, mean_ade, motion_accuracy, to_uint8, unigram_ce,
)
from paperzoo.worlddreamer.flops import self_attention_flops  # noqa: E402
from paperzoo.worlddreamer.models import SYSTEM, classifier_unit, eval_clips, stpt_unit, tokenizer_unit  # noqa: E402
from paperzoo.worlddreamer.prompts import Prompts  # noqa: E402
from paperzoo.worlddreamer.stpt import STPT  # noqa: E402
from paperzoo.worlddreamer.tasks import region_box, start_ids  # noqa: E402
from paperzoo.worlddreamer.tokenizer import FrameTokenizer  # noqa: E402
from paperzoo.worlddreamer.train import ClipTokens, TrainConfig, masked_token_loss, pretokenize, training_batch  # noqa: E402

TITLE = "WorldDreamer: Towards General World Models for Video Generation via Predicting Masked Tokens"
MASK_MODES = ("shared", "independent", "shared+prefix")


@dataclass(frozen=True)
class Budget:
    seeds: int = 3
    config: str = "tiny"
    recipe: TrainConfig = TrainConfig()
    full_attention: bool = True  # R2: train the s = 1 twin
    causal: bool = True  # R3: train the causal twin
    other_mask_modes: bool = True  # R5: train the mask modes other than the config's
    classifier_steps: int = 400
    eval_clips: int = 64
    tbt_clips: int = 8  # token-by-token decoding costs (N - context) h w passes: a subset
    context: int = 2  # video prediction: frames given
    decode_steps: tuple[int, ...] = (4, 8, 12)
    betas: tuple[float, ...] = (0.0, 1.0, 3.0)
    timing_repeats: int = 3
    cmmd_embedder: object = "sparc-tiny"  # per-frame CMMD of text-to-video frames: a name, a folder, or None


FULL = Budget()
QUICK = Budget(seeds=1, config="micro", recipe=TrainConfig(tokenizer_steps=20, steps=20, batch_size=4, train_clips=32),
               classifier_steps=4, eval_clips=4, tbt_clips=2, decode_steps=(2, 4), betas=(0.0, 1.0), timing_repeats=1,
               cmmd_embedder=None)
# Minutes on 2 cores, from single units measured on one core (2026-12-07): per seed the tokenizer
# ~5, each of the five STPT-sized trainings ~20 on one core (~12 on two), the classifier ~2, the
# evaluation ~5.
EXPECTED_MINUTES = {"full": 240, "quick": 2}


def _gate_steps(budget: Budget) -> int:
    """The decoding steps the tasks and the token-by-token comparison use: the card's T = 8 (else the budget's largest)."""
    return 8 if 8 in budget.decode_steps else budget.decode_steps[-1]


def _video(wd: WorldDreamerConfig) -> VideoConfig:
    return VideoConfig(image_size=wd.tokenizer.image_size, frames=wd.stpt.frames)


def _variants(wd: WorldDreamerConfig, budget: Budget) -> dict[str, WorldDreamerConfig]:
    """The STPT-sized models of one seed: name -> config (the causal twin shares the STPT's)."""
    out = {"stpt": wd}
    if budget.full_attention:
        out["full-attention"] = replace(wd, stpt=replace(wd.stpt, stride=1))
    if budget.other_mask_modes:
        for mode in MASK_MODES:
            if mode != wd.stpt.mask_mode:
                out[f"mask-{mode}"] = replace(wd, stpt=replace(wd.stpt, mask_mode=mode))
    return out


# ------------------------------------------------------------------------------ evaluation


def _timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


class Evaluator:
    """The held-out clips of one seed's evaluation, their tokens and the decoding helpers."""

    def __init__(self, tok: FrameTokenizer, video: VideoConfig, n: int):
        self.tok, self.video = tok, video
        self.clips = eval_clips(video, n)
        self.tokens = pretokenize(tok, self.clips)
        self.ids = torch.from_numpy(self.tokens.ids)
        self.real = self.clips.frames_float()
        self.recon = to_uint8(tok.decode(self.ids))
        self.text = Prompts(torch.from_numpy(self.tokens.token_ids), torch.from_numpy(self.tokens.token_mask))
        self.grid = int(self.ids.shape[-1])

    def frames(self, ids: torch.Tensor) -> np.ndarray:
        return to_uint8(self.tok.decode(ids))

    def start(self, task: str, mask_id: int, context: int = 1, region=None) -> torch.Tensor:
        n = len(self.ids)
        return start_ids(task, n, self.video.frames, self.grid, mask_id, given=self.ids, region=region, context=context)

    def ade(self, frames: np.ndarray, from_frame: int, rows: slice = slice(None)) -> float:
        return mean_ade(frames, self.clips[rows], self.video, from_frame=from_frame)

    def copy_ade(self, context: int, rows: slice = slice(None)) -> float:
        return self.ade(copy_first_frame(self.recon[rows], context), context, rows)


def decoding_metrics(ev: Evaluator, model: STPT, causal: CausalVideoTransformer | None, budget: Budget) -> dict:
    """R3: video prediction by parallel decoding (each T), token by token, and the causal transformer."""
    ctx, mask_id = budget.context, model.config.mask_id
    start = ev.start("image-to-video", mask_id, context=ctx)
    out = {"copy_ade": ev.copy_ade(ctx), "parallel": {}}
    for t in budget.decode_steps:
        d, seconds = _timed(lambda: parallel_decode(model, start, steps=t))
        out["parallel"][str(t)] = {"passes": d.forward_passes, "seconds": seconds, "ade": ev.ade(ev.frames(d.ids), ctx)}
    sub = slice(0, budget.tbt_clips)
    t8 = _gate_steps(budget)
    d_sub, sec_sub = _timed(lambda: parallel_decode(model, start[sub], steps=t8))
    d_tbt, sec_tbt = _timed(lambda: token_by_token_decode(model, start[sub]))
    out["same_clips"] = {
        "steps": t8, "clips": budget.tbt_clips,
        "parallel": {"passes": d_sub.forward_passes, "seconds": sec_sub, "ade": ev.ade(ev.frames(d_sub.ids), ctx, sub)},
        "token_by_token": {"passes": d_tbt.forward_passes, "seconds": sec_tbt, "ade": ev.ade(ev.frames(d_tbt.ids), ctx, sub)},
        "copy_ade": ev.copy_ade(ctx, sub),
    }
    if causal is not None:
        prefix = ev.ids[:, :ctx].flatten(1)
        (ids, passes), seconds = _timed(lambda: causal.generate(prefix))
        out["causal_kv"] = {"passes": passes, "seconds": seconds, "ade": ev.ade(ev.frames(ids), ctx)}
    return out


def task_metrics(ev: Evaluator, model: STPT, classifier: VideoClassifier, budget: Budget, embedder=None) -> dict:
    """R4: the five tasks, each beta; T = 8 parallel steps (or the budget's largest)."""
    steps = _gate_steps(budget)
    mask_id, n = model.config.mask_id, len(ev.ids)
    actions = torch.from_numpy(ev.tokens.actions)
    act = lambda a: Prompts(actions=a, action_mask=torch.ones(n, dtype=torch.bool))  # noqa: E731
    region = region_box(ev.grid, (ev.grid // 4, ev.grid // 4, 3 * ev.grid // 4, 3 * ev.grid // 4))
    real_features = None
    if embedder is not None:
        from paperzoo.cmmd.reproduce import embed_uint8

        real_features = embed_uint8(embedder, to_uint8(ev.real).reshape(-1, *ev.recon.shape[2:]))
    out: dict = {"copy_ade_1": ev.copy_ade(1), "copy_ade_context": ev.copy_ade(budget.context)}
    blank = ev.start("inpainting", mask_id, region=region)
    background = int(torch.bincount(ev.ids.flatten()).argmax())
    out["inpainting_background_ade"] = ev.ade(ev.frames(torch.where(blank == mask_id, background, blank)), 0)
    out["fvd_lite_reconstruction"] = fvd_lite(classifier, ev.real, ev.tok.decode(ev.ids))
    for beta in budget.betas:
        row: dict = {}
        t2v = parallel_decode(model, ev.start("text-to-video", mask_id), ev.text, steps=steps, beta=beta)
        frames = ev.tok.decode(t2v.ids)
        row["text_to_video"] = {"caption_accuracy": caption_accuracy(classifier, frames, ev.clips),
                                "motion_accuracy": motion_accuracy(to_uint8(frames), ev.clips, ev.video),
                                "fvd_lite": fvd_lite(classifier, ev.real, frames), "passes": t2v.forward_passes}
        if embedder is not None:
            from paperzoo.cmmd import cmmd
            from paperzoo.cmmd.reproduce import embed_uint8

            fake = embed_uint8(embedder, to_uint8(frames).reshape(-1, *ev.recon.shape[2:]))
            row["text_to_video"]["cmmd_per_frame"] = float(cmmd(real_features, fake))
        for name, ctx in (("image_to_video", 1), ("video_prediction", budget.context)):
            d = parallel_decode(model, ev.start("image-to-video", mask_id, context=ctx), ev.text, steps=steps, beta=beta)
            row[name] = {"ade": ev.ade(ev.frames(d.ids), ctx)}
        agree = {}
        for sign, label in ((1, "own"), (-1, "opposite")):
            a = actions * sign
            d = parallel_decode(model, ev.start("action-to-video", mask_id), act(a), steps=steps, beta=beta)
            agree[label] = action_sign_agreement(ev.frames(d.ids), ev.clips, ev.video, a.numpy()).mean().item()
        row["action_to_video"] = {**agree, "both": (agree["own"] + agree["opposite"]) / 2}
        d = parallel_decode(model, blank, ev.text, steps=steps, beta=beta)
        row["inpainting"] = {"ade": ev.ade(ev.frames(d.ids), 0)}
        if beta == budget.betas[0]:  # no prompt: beta changes nothing
            d = parallel_decode(model, ev.start("unconditional", mask_id), None, steps=steps)
            out["unconditional"] = {"fvd_lite": fvd_lite(classifier, ev.real, ev.tok.decode(d.ids))}
        out[f"beta={beta:g}"] = row
    return out


def step_seconds(configs: dict[str, WorldDreamerConfig], tokens: ClipTokens, recipe: TrainConfig, repeats: int) -> dict:
    """R2: the wall time of one training step (batch `recipe.batch_size`) of fresh models of each config, ABBA."""
    fns = {}
    for name, wd in configs.items():
        model = STPT(wd.stpt)
        opt = torch.optim.AdamW(model.parameters())
        batch = training_batch(tokens, wd.stpt, recipe, 0, 0)

        def run(model=model, opt=opt, batch=batch):
            opt.zero_grad(set_to_none=True)
            masked_token_loss(model, batch[0], batch[1], batch[2], batch[3]).backward()
            opt.step()

        fns[name] = run
    times = interleaved(fns, repeats=repeats, warmup=1)
    return {k: float(min(v)) for k, v in times.items()}


def evaluate_seed(root: Path, wd: WorldDreamerConfig, budget: Budget, seed: int, embedder=None) -> dict:
    video = _video(wd)
    tok = FrameTokenizer.from_pretrained(root / "tokenizer" / "tokenizer")
    ev = Evaluator(tok, video, budget.eval_clips)
    variants = _variants(wd, budget)
    models = {k: STPT.from_pretrained(root / k / "model").eval() for k in variants}
    causal = CausalVideoTransformer.from_pretrained(root / "causal" / "model").eval() if budget.causal else None
    classifier = VideoClassifier.from_pretrained(root / "classifier" / "model").eval()
    train_tokens = ClipTokens.load(root / "tokenizer" / f"tokens-{budget.recipe.train_clips}.npz")
    out = {"prior_ce": unigram_ce(train_tokens.ids, ev.tokens.ids, wd.stpt.codebook_size)}
    out["ce"] = {k: masked_token_ce(m, ev.ids, None, seed=1, mode="shared") for k, m in models.items()}
    out["ce_untrained"] = masked_token_ce(STPT(wd.stpt).eval(), ev.ids, None, seed=1, mode="shared")
    out["decoding"] = decoding_metrics(ev, models["stpt"], causal, budget)
    out["tasks"] = task_metrics(ev, models["stpt"], classifier, budget, embedder)
    out["mask_modes"] = {}
    for k, m in models.items():
        if k == "stpt" or k.startswith("mask-"):
            mode = m.config.mask_mode
            d = parallel_decode(m, ev.start("image-to-video", m.config.mask_id, context=budget.context), steps=_gate_steps(budget))
            out["mask_modes"][mode] = {"ade": ev.ade(ev.frames(d.ids), budget.context), "ce": out["ce"][k]}
    if budget.full_attention:
        out["step_seconds"] = step_seconds({"patchwise": wd, "full": variants["full-attention"]}, train_tokens,
                                           budget.recipe, budget.timing_repeats)
    return out


def gallery(root: Path, wd: WorldDreamerConfig, budget: Budget, out: Path, clips: int = 4, beta: float = 1.0) -> list[Path]:
    """One GIF per task from one seed's STPT (T = 8, argmax, CFG `beta`): the top row the held-out
    clips, the rows below what the model makes from their first frames / captions / actions."""
    from paperzoo.worlddreamer.show import save_video, tile

    tok = FrameTokenizer.from_pretrained(root / "tokenizer" / "tokenizer")
    model = STPT.from_pretrained(root / "stpt" / "model").eval()
    ev = Evaluator(tok, _video(wd), clips)
    mask_id, steps = model.config.mask_id, _gate_steps(budget)
    actions = torch.from_numpy(ev.tokens.actions)
    act = lambda a: Prompts(actions=a, action_mask=torch.ones(clips, dtype=torch.bool))  # noqa: E731
    region = region_box(ev.grid, (ev.grid // 4, ev.grid // 4, 3 * ev.grid // 4, 3 * ev.grid // 4))
    made = {
        "text-to-video": [parallel_decode(model, ev.start("text-to-video", mask_id), ev.text, steps, beta)],
        "image-to-video": [parallel_decode(model, ev.start("image-to-video", mask_id), ev.text, steps, beta)],
        "video-prediction": [parallel_decode(model, ev.start("image-to-video", mask_id, context=budget.context), ev.text,
                                             steps, beta)],
        "action-to-video": [parallel_decode(model, ev.start("action-to-video", mask_id), act(sign * actions), steps, beta)
                            for sign in (1, -1)],
        "inpainting": [parallel_decode(model, ev.start("inpainting", mask_id, region=region), ev.text, steps, beta)],
        "unconditional": [parallel_decode(model, ev.start("unconditional", mask_id), None, steps)],
    }
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for task, decoded in made.items():
        rows = [list(ev.real)] if task != "unconditional" else []
        rows += [list(tok.decode(d.ids)) for d in decoded]
        paths.append(save_video(tile(rows), out, scale=3, name=task)[0])
    return paths


# ------------------------------------------------------------------------------ the runs


def run_seed(out: Path, budget: Budget, seed: int, device: str = "cpu", embedder=None) -> dict:
    """Every unit of one seed (cached); returns their results."""
    wd = get_config(budget.config)
    video = _video(wd)
    root = out / "runs" / f"seed-{seed}"
    results = {"tokenizer": tokenizer_unit(root / "tokenizer", wd, video, budget.recipe, seed, device)}
    units = {}
    for name, variant in _variants(wd, budget).items():
        units[name] = stpt_unit(root / name, root / "tokenizer", variant, video, budget.recipe, seed, "stpt", device)
    if budget.causal:
        units["causal"] = stpt_unit(root / "causal", root / "tokenizer", wd, video, budget.recipe, seed, "causal", device)
    results["training"] = units
    results["classifier"] = classifier_unit(root / "classifier", video, seed, budget.classifier_steps, device,
                                            eval_n=max(budget.eval_clips, 64))
    settings = {"unit": "evaluation", "budget": {k: v for k, v in asdict(budget).items() if k != "cmmd_embedder"}, "seed": seed,
                "embedder": embedder.describe() if embedder is not None else None}
    results["evaluation"] = cached_run(root / "evaluation", SYSTEM, settings,
                                       lambda f: evaluate_seed(root, wd, budget, seed, embedder))
    return results


# ------------------------------------------------------------------------------ claims


def _get(results: list[dict], *path) -> list[float]:
    out = []
    for r in results:
        v = r["evaluation"]
        for p in path:
            v = v[p]
        out.append(float(v))
    return out


def make_claims(results: list[dict], budget: Budget) -> list[Claim]:
    wd = get_config(budget.config)
    ctx = budget.context
    t8 = str(_gate_steps(budget))
    claims = []
    # R3: parallel vs token by token
    p_passes = _get(results, "decoding", "same_clips", "parallel", "passes")
    t_passes = _get(results, "decoding", "same_clips", "token_by_token", "passes")
    ratio = float(np.mean(t_passes) / np.mean(p_passes))
    claims.append(Claim("parallel decoding needs far fewer forward passes than token-by-token (>= 10x)",
                        "§3.3: ~10 steps instead of one per token",
                        f"{np.mean(p_passes):.0f} vs {np.mean(t_passes):.0f} passes ({ratio:.0f}x), T = {t8}",
                        deterministic(ratio >= 10), note="counted, the same on every seed"))
    p_sec = _get(results, "decoding", "same_clips", "parallel", "seconds")
    t_sec = _get(results, "decoding", "same_clips", "token_by_token", "seconds")
    speedup = [t / p for t, p in zip(t_sec, p_sec)]
    claims.append(Claim("... and is at least 3x faster", "§3.3: '3x ~ 20x acceleration'", f"speed-up {spread(speedup, '{:.1f}')}",
                        better(speedup, 3.0), note=f"wall time on {budget.tbt_clips} clips, this machine"))
    p_ade = _get(results, "decoding", "same_clips", "parallel", "ade")
    t_ade = _get(results, "decoding", "same_clips", "token_by_token", "ade")
    claims.append(Claim("... at the same quality (ADE within 10%)", "card §5 expected sign 1",
                        f"ADE {spread(p_ade, '{:.2f}')} vs {spread(t_ade, '{:.2f}')} px",
                        equivalent(p_ade, t_ade, tolerance=0.1, relative=True)))
    if budget.causal:
        c_sec = _get(results, "decoding", "causal_kv", "seconds")
        c_ade = _get(results, "decoding", "causal_kv", "ade")
        par_sec = _get(results, "decoding", "parallel", t8, "seconds")
        par_ade = _get(results, "decoding", "parallel", t8, "ade")
        claims.append(Claim("parallel decoding is faster than a same-size causal transformer with a KV cache",
                            "Fig. 4, §3.3 (no numbers)",
                            f"{spread(par_sec, '{:.1f}')} s vs {spread(c_sec, '{:.1f}')} s; ADE {spread(par_ade, '{:.2f}')} "
                            f"vs {spread(c_ade, '{:.2f}')} px", better(par_sec, c_sec, higher_is_better=False),
                            note=f"{budget.eval_clips} clips, one batch"))
    # R2: patchwise vs full attention
    full = replace(wd.stpt, stride=1)
    flop_ratio = self_attention_flops(wd.stpt) / self_attention_flops(full)
    claims.append(Claim("patchwise attention (s = 2) costs 1/4 of full attention", "Eq. 3",
                        f"attention FLOPs ratio {flop_ratio:.4f} (counted = formula: test_stpt.py)",
                        deterministic(abs(flop_ratio - 0.25) < 1e-9)))
    if budget.full_attention:
        ps = _get(results, "step_seconds", "patchwise")
        fs = _get(results, "step_seconds", "full")
        claims.append(Claim("... and a training step takes less time", "§3.2 ('efficient')",
                            f"{spread(ps)} s vs {spread(fs)} s per step (batch {budget.recipe.batch_size})",
                            better(ps, fs, higher_is_better=False), note="512 tokens: attention is a small share here"))
        pce, fce = _get(results, "ce", "stpt"), _get(results, "ce", "full-attention")
        claims.append(Claim("STPT converges at least as well as full attention (CE at equal steps)", "§3.2 (weak at 512 tokens)",
                            f"CE {spread(pce)} vs {spread(fce)} nats", better(pce, fce, higher_is_better=False),
                            note="reported, not gated (card)"))
    # learning
    ce, prior = _get(results, "ce", "stpt"), _get(results, "prior_ce")
    claims.append(Claim("the STPT predicts masked tokens (held-out Eq. 5 CE below the code prior)", "Eqs. 2 / 5",
                        f"CE {spread(ce)} vs prior {spread(prior)} nats; untrained {spread(_get(results, 'ce_untrained'))}",
                        better(ce, prior, higher_is_better=False, baseline=_get(results, "ce_untrained"))))
    # R4: conditioning
    b0, bmax = f"beta={budget.betas[0]:g}", f"beta={budget.betas[-1]:g}"
    chance = chance_rates(_video(wd))
    top = budget.betas[-1]  # claims are decided at the strongest guidance, fixed in advance (not the best of the betas)
    for kind in ("colour", "shape", "motion"):
        acc = _get(results, "tasks", f"beta={top:g}", "text_to_video", "caption_accuracy", kind)
        claims.append(Claim(f"text-to-video follows the caption: {kind} read back above chance", "Fig. 5 (qualitative)",
                            f"{spread(acc)} at beta {top:g}; chance {chance[kind]:.3f}",
                            better(acc, chance[kind]), note="the video classifier's reading"))
    acc0 = _get(results, "tasks", b0, "text_to_video", "caption_accuracy", "colour")
    accb = _get(results, "tasks", bmax, "text_to_video", "caption_accuracy", "colour")
    claims.append(Claim("classifier-free guidance raises caption accuracy", "Eq. 6 (beta not given)",
                        f"colour {spread(accb)} at beta {budget.betas[-1]:g} vs {spread(acc0)} at beta 0", better(accb, acc0)))
    agree = _get(results, "tasks", f"beta={top:g}", "action_to_video", "both")
    claims.append(Claim("action-to-video follows the actions (sign agreement > 0.5, own and opposite actions)",
                        "Fig. 9 (qualitative, nuScenes)", f"{spread(agree)} at beta {top:g}", better(agree, 0.5),
                        note="a clip counts only if object 0 moves at least 1 px along the actions' main axis"))
    # R4: prediction against copying
    vp = _get(results, "tasks", b0, "video_prediction", "ade")
    copy = _get(results, "tasks", "copy_ade_context")
    claims.append(Claim(f"video prediction ({ctx} frames given) beats copying the last given frame", "Figs. 6-7 (qualitative)",
                        f"ADE {spread(vp, '{:.2f}')} vs {spread(copy, '{:.2f}')} px", better(vp, copy, higher_is_better=False),
                        note="with two frames the velocity is observable"))
    i2v = _get(results, "tasks", b0, "image_to_video", "ade")
    copy1 = _get(results, "tasks", "copy_ade_1")
    claims.append(Claim("image-to-video beats copying frame 0 (the card's gate)", "Fig. 6 (qualitative)",
                        f"ADE {spread(i2v, '{:.2f}')} vs {spread(copy1, '{:.2f}')} px", better(i2v, copy1, higher_is_better=False),
                        note="from one frame this world's directions are uniform: no motion is the best point guess"))
    # R5: mask modes
    if budget.other_mask_modes:
        modes = {m: _get(results, "mask_modes", m, "ade") for m in MASK_MODES}
        claims.append(Claim("the shared mask beats independent per-frame masks (video prediction ADE)", "§3.3",
                            f"{spread(modes['shared'], '{:.2f}')} vs {spread(modes['independent'], '{:.2f}')} px",
                            better(modes["shared"], modes["independent"], higher_is_better=False)))
        claims.append(Claim("ours: keeping the first frames whole in some samples (shared+prefix) helps video prediction",
                            "card §5 expected sign 4 (if shared fails)",
                            f"{spread(modes['shared+prefix'], '{:.2f}')} vs {spread(modes['shared'], '{:.2f}')} px (shared)",
                            better(modes["shared+prefix"], modes["shared"], higher_is_better=False)))
    claims.append(Claim("joint image-video training lowers FVD-lite", "§3.3, §4.2 (weak)", "-",
                        unmeasured("not run: one more STPT per seed; every STPT here trains with 25% image clips")))
    return claims


def decoding_table(results: list[dict], budget: Budget) -> str:
    lines = ["| decoder | forward passes | seconds | ADE (px) |", "| --- | --- | --- | --- |"]
    for t in budget.decode_steps:
        row = lambda k: _get(results, "decoding", "parallel", str(t), k)  # noqa: E731
        lines.append(f"| parallel, T = {t} ({budget.eval_clips} clips) | {np.mean(row('passes')):.0f} | "
                     f"{spread(row('seconds'), '{:.1f}')} | {spread(row('ade'), '{:.2f}')} |")
    for k in ("parallel", "token_by_token"):
        row = lambda m: _get(results, "decoding", "same_clips", k, m)  # noqa: E731
        lines.append(f"| {k.replace('_', '-')} ({budget.tbt_clips} clips) | {np.mean(row('passes')):.0f} | "
                     f"{spread(row('seconds'), '{:.1f}')} | {spread(row('ade'), '{:.2f}')} |")
    if budget.causal:
        row = lambda m: _get(results, "decoding", "causal_kv", m)  # noqa: E731
        lines.append(f"| causal + KV cache ({budget.eval_clips} clips) | {np.mean(row('passes')):.0f} | "
                     f"{spread(row('seconds'), '{:.1f}')} | {spread(row('ade'), '{:.2f}')} |")
    lines.append(f"| copy the last given frame | 0 | 0 | {spread(_get(results, 'decoding', 'copy_ade'), '{:.2f}')} |")
    return "\n".join(lines)


def tasks_table(results: list[dict], budget: Budget) -> str:
    head = "| task, metric | " + " | ".join(f"beta = {b:g}" for b in budget.betas) + " | baseline |"
    lines = [head, "| --- |" + " --- |" * (len(budget.betas) + 1)]
    real = [r["classifier"]["accuracy_on_real"]["colour"] for r in results]
    rows = [("text-to-video, colour accuracy", ("text_to_video", "caption_accuracy", "colour"),
             f"chance 1/6; real clips {spread(real)}"),
            ("text-to-video, motion accuracy (tracks)", ("text_to_video", "motion_accuracy"), "-"),
            ("text-to-video, FVD-lite", ("text_to_video", "fvd_lite"),
             f"reconstructions {spread(_get(results, 'tasks', 'fvd_lite_reconstruction'), '{:.1f}')}"),
            ("image-to-video, ADE", ("image_to_video", "ade"), f"copy {spread(_get(results, 'tasks', 'copy_ade_1'), '{:.2f}')}"),
            (f"video prediction ({budget.context} given), ADE", ("video_prediction", "ade"),
             f"copy {spread(_get(results, 'tasks', 'copy_ade_context'), '{:.2f}')}"),
            ("action-to-video, sign agreement", ("action_to_video", "both"), "0.5"),
            ("inpainting, ADE (all frames)", ("inpainting", "ade"),
             f"background fill {spread(_get(results, 'tasks', 'inpainting_background_ade'), '{:.2f}')}")]
    if all("cmmd_per_frame" in r["evaluation"]["tasks"][f"beta={budget.betas[0]:g}"]["text_to_video"] for r in results):
        rows.insert(3, ("text-to-video, per-frame CMMD", ("text_to_video", "cmmd_per_frame"), "-"))
    for label, path, base in rows:
        cells = [spread(_get(results, "tasks", f"beta={b:g}", *path), "{:.3f}") for b in budget.betas]
        lines.append(f"| {label} | " + " | ".join(cells) + f" | {base} |")
    lines.append(f"| unconditional, FVD-lite | {spread(_get(results, 'tasks', 'unconditional', 'fvd_lite'), '{:.1f}')} |"
                 + " |" * (len(budget.betas) - 1) + " |")
    return "\n".join(lines)


def training_table(results: list[dict], budget: Budget) -> str:
    default_mode = get_config(budget.config).stpt.mask_mode
    lines = ["| run | held-out CE (nats, shared masks) | video prediction ADE (px) |", "| --- | --- | --- |"]
    for k in results[0]["evaluation"]["ce"]:
        mode = default_mode if k == "stpt" else k.removeprefix("mask-") if k.startswith("mask-") else None
        ade = spread(_get(results, "mask_modes", mode, "ade"), "{:.2f}") if mode else "-"
        lines.append(f"| {k}{f' ({mode} masks)' if k == 'stpt' else ''} | {spread(_get(results, 'ce', k))} | {ade} |")
    lines.append(f"| code prior | {spread(_get(results, 'prior_ce'))} | - |")
    lines.append(f"| untrained STPT | {spread(_get(results, 'ce_untrained'))} | - |")
    tok = [r["tokenizer"] for r in results]
    lines.append("")
    lines.append(f"Tokenizer (R1): PSNR {spread([t['psnr'] for t in tok], '{:.1f}')} dB, codebook usage "
                 f"{spread([t['codebook_usage'] for t in tok], '{:.2f}')}, reconstruction ADE "
                 f"{spread([t['reconstruction_ade'] for t in tok], '{:.2f}')} px.")
    return "\n".join(lines)


def plot(results: list[dict], budget: Budget, path: Path) -> Path:
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    ts = list(budget.decode_steps)
    ade = np.array([_get(results, "decoding", "parallel", str(t), "ade") for t in ts])
    axes[0].errorbar(ts, ade.mean(1), yerr=ade.std(1, ddof=1) / np.sqrt(ade.shape[1]) if ade.shape[1] > 1 else None,
                     marker="o", label="parallel")
    axes[0].axhline(np.mean(_get(results, "decoding", "copy_ade")), color="grey", ls="--", label="copy last frame")
    axes[0].set_xlabel("decoding steps T")
    axes[0].set_ylabel("video prediction ADE (px)")
    axes[0].legend()
    acc = np.array([_get(results, "tasks", f"beta={b:g}", "text_to_video", "caption_accuracy", "colour") for b in budget.betas])
    axes[1].errorbar(budget.betas, acc.mean(1), yerr=acc.std(1, ddof=1) / np.sqrt(acc.shape[1]) if acc.shape[1] > 1 else None,
                     marker="o")
    axes[1].axhline(1 / 6, color="grey", ls="--", label="chance")
    axes[1].set_xlabel("CFG beta")
    axes[1].set_ylabel("text-to-video colour accuracy")
    axes[1].legend()
    fig.suptitle(f"WorldDreamer on the video world ({len(results)} seed(s), mean ± SE)")
    fig.tight_layout()
    return save_figure(fig, path)


def run(out_dir: str | Path = "reproduction", quick: bool = False, device: str = "cpu", seed: int = 0,
        budget: Budget | None = None) -> SystemReport:
    budget = budget or (QUICK if quick else FULL)
    out = Path(out_dir) / SYSTEM
    out.mkdir(parents=True, exist_ok=True)
    embedder = None
    if budget.cmmd_embedder is not None:
        from paperzoo.cmmd.embedders import load_embedder

        embedder = load_embedder(budget.cmmd_embedder, device, progress=False)
    results = [run_seed(out, budget, s, device, embedder) for s in tqdm(range(seed, seed + budget.seeds), desc=SYSTEM, unit="seed")]
    (out / "results.json").write_text(json.dumps(results, indent=1) + "\n")
    gifs = gallery(out / "runs" / f"seed-{seed}", get_config(budget.config), budget, out / "gallery")
    claims = make_claims(results, budget)
    rel = lambda p: str(Path(p).relative_to(Path(out_dir)))  # noqa: E731
    wd = get_config(budget.config)
    r = budget.recipe
    setup = (f"Video world ({wd.tokenizer.image_size} px, {wd.stpt.frames} frames, 1-3 shapes that bounce, orbit or drift). "
             f"Config '{budget.config}': tokenizer K = {wd.tokenizer.codebook_size} ({r.tokenizer_steps} steps), STPT C_V = "
             f"{wd.stpt.dim}, {wd.stpt.layers} layers, s = {wd.stpt.stride}, '{wd.stpt.mask_mode}' masks, {r.steps} steps of "
             f"{r.batch_size} clips; every twin (full attention, other mask modes, causal) the same steps on the same tokens; "
             f"{budget.eval_clips} held-out clips; {budget.seeds} seed(s).")
    return SystemReport(SYSTEM, TITLE, "2401.09985", "paperzoo worlddreamer reproduce" + (" --quick" if quick else ""),
                        claims=claims, plots=[rel(plot(results, budget, out / "worlddreamer.png"))] + [rel(g) for g in gifs],
                        setup=setup,
                        tables=[decoding_table(results, budget), tasks_table(results, budget), training_table(results, budget)],
                        quick=quick)
