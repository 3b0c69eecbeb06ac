"""WorldDreamer's decoding and attention costs, side by side in one run (issue 19; §3.3, Fig. 4, Eq. 3).

1. Parallel decoding (T = 8 steps) against the same STPT decoding token by token, on
   image-to-video (frame 0 given, 7 x 64 tokens to fill): forward passes (counted; target
   >= 10x fewer), wall time (target >= 3x less) and trajectory ADE of each (target: parallel
   within 10% of token-by-token, i.e. ratio <= 1.1).
2. Parallel decoding against a same-size causal transformer sampling with a KV cache
   (Fig. 4's autoregressive route): wall time and ADE side by side (printed, no target:
   the paper's claim is only "3x ~ 20x").
3. STPT (s = 2) against full attention (s = 1): self-attention FLOPs counted with
   FlopCounterMode (target: exactly 0.25) and the time of one training step (batch 16).

Decoding uses the cached tiny models (`paperzoo worlddreamer train` trains them once, with a
progress bar, if they are missing); wall-clock times alternate the two sides (ABBA) after a
warm-up and the best time makes the ratio.

    python benchmarks/worlddreamer.py            # the tiny models; 16 clips, 3 repeats
    python benchmarks/worlddreamer.py --quick    # the micro models (50 steps; ADE means nothing),
                                                 # 4 clips, 1 repeat; token-by-token on 2 clips

Ends with one line per ratio: `ratio <name> = <value> (target <= <x>)` (or >=).
"""

import argparse
from dataclasses import replace

import numpy as np
import torch

from paperzoo.core.measure import interleaved
from paperzoo.worlddreamer import STPT, parallel_decode, token_by_token_decode
from paperzoo.worlddreamer.evaluate import mean_ade, to_uint8
from paperzoo.worlddreamer.flops import count_self_attention_flops
from paperzoo.worlddreamer.models import eval_clips, tiny_models
from paperzoo.worlddreamer.tasks import start_ids
from paperzoo.worlddreamer.train import TrainConfig, masked_token_loss, pretokenize, training_batch


QUICK_RECIPE = TrainConfig(tokenizer_steps=50, steps=50, batch_size=8, train_clips=64)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(2)
    clips_n, repeats, tbt_n = (4, 1, 2) if args.quick else (16, 3, 4)

    models = tiny_models(seed=0, name="micro", recipe=QUICK_RECIPE, progress=True) if args.quick else tiny_models(seed=0)
    video, stpt, ar, tok = models.video, models.stpt, models.ar, models.tokenizer
    clips = eval_clips(video, clips_n)
    ids = torch.from_numpy(pretokenize(tok, clips).ids)
    mask_id = stpt.config.mask_id
    start = start_ids("image-to-video", clips_n, video.frames, stpt.config.grid, mask_id, given=ids)
    prefix = ids[:, 0].flatten(1)

    # 1-2: decoding
    out = {}
    out["parallel"] = parallel_decode(stpt, start, steps=8)
    out["token_by_token"] = token_by_token_decode(stpt, start[:tbt_n])
    ar_ids, ar_passes = ar.generate(prefix)
    ade = {"parallel": mean_ade(to_uint8(tok.decode(out["parallel"].ids)), clips, video),
           "token_by_token": mean_ade(to_uint8(tok.decode(out["token_by_token"].ids)), clips[:tbt_n], video),
           "parallel_same_clips": mean_ade(to_uint8(tok.decode(out["parallel"].ids[:tbt_n])), clips[:tbt_n], video),
           "causal_kv": mean_ade(to_uint8(tok.decode(ar_ids)), clips, video)}
    passes = {"parallel": out["parallel"].forward_passes, "token_by_token": out["token_by_token"].forward_passes,
              "causal_kv": ar_passes}
    times = interleaved({
        "parallel": lambda: parallel_decode(stpt, start[:tbt_n], steps=8),
        "token_by_token": lambda: token_by_token_decode(stpt, start[:tbt_n]),
        "causal_kv": lambda: ar.generate(prefix[:tbt_n]),
    }, repeats=repeats, warmup=1 if not args.quick else 0)
    best = {k: min(v) for k, v in times.items()}
    print(f"image-to-video on {tbt_n} clips (8 frames, 7 x 64 tokens to fill):")
    for k in best:
        print(f"  {k:15s} forward passes {passes[k]:4d}  best {best[k]:.2f} s  (median {np.median(times[k]):.2f} s)")
    print(f"  ADE (px): parallel {ade['parallel_same_clips']:.2f} vs token-by-token {ade['token_by_token']:.2f} on "
          f"{tbt_n} clips; parallel {ade['parallel']:.2f} vs causal+KV {ade['causal_kv']:.2f} on {clips_n}")

    # 3: attention cost and a training step
    full_config = replace(stpt.config, stride=1)
    flops = {s: count_self_attention_flops(STPT(replace(stpt.config, stride=s)), ids[:1]) for s in (1, 2)}
    recipe = TrainConfig(batch_size=16)
    tokens = pretokenize(tok, eval_clips(video, 64))
    batch = training_batch(tokens, stpt.config, recipe, 0, 0)

    def step_fn(model, opt):
        def run():
            opt.zero_grad(set_to_none=True)
            masked_token_loss(model, *batch[:2], batch[2], batch[3]).backward()
            opt.step()
        return run

    patch, full = STPT(stpt.config), STPT(full_config)
    step_times = interleaved({"patchwise": step_fn(patch, torch.optim.AdamW(patch.parameters())),
                              "full": step_fn(full, torch.optim.AdamW(full.parameters()))},
                             repeats=max(2, repeats), warmup=1)
    print(f"training step (batch 16): patchwise {min(step_times['patchwise']):.3f} s, full {min(step_times['full']):.3f} s")

    print(f"ratio forward_passes_token_by_token_over_parallel = {passes['token_by_token'] / passes['parallel']:.1f} (target >= 10)")
    print(f"ratio wall_token_by_token_over_parallel = {best['token_by_token'] / best['parallel']:.1f} (target >= 3)")
    print(f"ratio ade_parallel_over_token_by_token = {ade['parallel_same_clips'] / max(ade['token_by_token'], 1e-6):.2f} (target <= 1.1)")
    print(f"ratio wall_causal_kv_over_parallel = {best['causal_kv'] / best['parallel']:.1f} (target >= 1)")
    print(f"ratio attention_flops_patchwise_over_full = {flops[2] / flops[1]:.4f} (target <= 0.25)")
    print(f"ratio train_step_patchwise_over_full = {min(step_times['patchwise']) / min(step_times['full']):.2f} (target <= 1)")


if __name__ == "__main__":
    main()
