"""Self-rewarding's two costs, each side by side in one run (issue 7).

All on the CPU, 2 threads, untrained weights (cost does not depend on the weights):

1. Candidate generation: N = 4 samples for each of P prompts, 32 new tokens each (EOS is
   never emitted, so both sides produce exactly the same number of tokens), as one batch
   with the KV cache (each step feeds one token per row) against naive regeneration (each
   step runs the whole sequence again). Tokens per second, cached / naive; target >= 2.
   For the tiny world model and a wider 6-layer d = 256 Llama.
2. A DPO step against an SFT step on the same batch: 16 pairs, i.e. the same 32
   (prompt + response) sequences; SFT trains on all 32, DPO runs them through the policy
   (forward and backward) and through the frozen reference (forward only). The reference
   forward is the extra cost; target <= 2.2. Also printed: DPO against SFT on the 16 chosen
   sequences only, the per-pair view.

3. With `--real`: judging on the real model (SmolLM2-135M-Instruct, `core.pretrained`): the
   Fig. 2 prompts of 2 fixed pairs (4 prompts of about 450 tokens, greedy, 8 new tokens each,
   EOS ignored), naive regeneration against the KV cache (tokens/s; target >= 3), and the
   KV cache with the shared prefix (the system turn and the rubric, run once for the batch)
   against the plain KV cache (time; target <= 0.8). And one SFT step on 4 EFT examples with
   the shared prefix (the judge prompt's rubric run once, its cache repeated over the rows)
   against the plain step (time; target <= 0.7).

Repetitions alternate in ABBA order after a warm-up; the best time is the ratio's, the
median is printed beside it.

    python benchmarks/self_rewarding.py            # more repeats
    python benchmarks/self_rewarding.py --quick    # about a minute
    python benchmarks/self_rewarding.py --quick --real   # and the real model (a few minutes more)

Ends with one line per ratio: `ratio <name> = <value> (target <= <x>)`.
"""

import argparse
import statistics

import torch

from paperzoo.core.measure import interleaved
from paperzoo.self_rewarding.config import LMConfig, model_config
from paperzoo.self_rewarding.policy import Policy, new_policy
from paperzoo.self_rewarding.sampling import generate
from paperzoo.self_rewarding.train import dpo_batch_loss, sft_loss, tokenize_pairs
from paperzoo.world.instructions import VOCAB, tasks

WIDE = LMConfig(vocab_size=len(VOCAB), hidden_size=256, layers=6, heads=8, kv_heads=8, intermediate_size=768, max_positions=256)


def _policy(cfg) -> Policy:
    if isinstance(cfg, str):
        return new_policy(cfg, seed=0)
    from transformers import LlamaForCausalLM

    base = new_policy("tiny", seed=0)
    torch.manual_seed(0)
    return Policy(LlamaForCausalLM(cfg.to_llama()), base.fmt)


def bench_generation(name, cfg, prompts: int, repeats: int) -> float:
    policy = _policy(cfg)
    policy.model.eval()
    ids = [policy.fmt.prompt_ids(t.prompt) for t in tasks("prompts", 0, prompts)]
    new_tokens = 32
    kw = dict(n=4, max_new_tokens=new_tokens, eos_id=-1, pad_id=policy.fmt.pad_id, temperature=0.7, top_p=0.9)
    fns = {
        "cached": lambda: generate(policy.model, ids, generator=torch.Generator().manual_seed(0), **kw),
        "naive": lambda: generate(policy.model, ids, generator=torch.Generator().manual_seed(0), use_cache=False, **kw),
    }
    times = interleaved(fns, repeats)
    tokens = prompts * 4 * new_tokens
    tps = {k: tokens / min(v) for k, v in times.items()}
    print(f"{name}: {prompts} prompts x 4 samples x {new_tokens} tokens; tokens/s cached {tps['cached']:.0f} "
          f"(median {tokens / statistics.median(times['cached']):.0f}), naive {tps['naive']:.0f} "
          f"(median {tokens / statistics.median(times['naive']):.0f})")
    return tps["cached"] / tps["naive"]


def bench_dpo_vs_sft(repeats: int) -> tuple[float, float]:
    policy = new_policy("tiny", seed=0)
    ref = new_policy("tiny", seed=1)
    ref.model.eval().requires_grad_(False)
    ts = tasks("prompts", 0, 16)
    prompts = [t.prompt for t in ts]
    chosen = tokenize_pairs(policy.fmt, prompts, [t.gold for t in ts])
    rejected = tokenize_pairs(policy.fmt, prompts, [" ".join(reversed(t.answer)) + " a" for t in ts])
    width = max(chosen["input_ids"].shape[1], rejected["input_ids"].shape[1])
    both = tokenize_pairs(policy.fmt, prompts * 2, [t.gold for t in ts] + [" ".join(reversed(t.answer)) + " a" for t in ts])
    assert both["input_ids"].shape[1] <= width + 1
    opt = torch.optim.AdamW(policy.model.parameters(), lr=1e-5)
    policy.model.train()

    def step(loss_fn):
        opt.zero_grad(set_to_none=True)
        loss_fn()["loss"].backward()
        opt.step()

    fns = {
        "dpo (16 pairs)": lambda: step(lambda: dpo_batch_loss(policy.model, ref.model, {"chosen": chosen, "rejected": rejected}, 0.1)),
        "sft (same 32 sequences)": lambda: step(lambda: sft_loss(policy.model, both)),
        "sft (16 chosen)": lambda: step(lambda: sft_loss(policy.model, chosen)),
    }
    times = interleaved(fns, repeats)
    best = {k: min(v) for k, v in times.items()}
    for k, v in times.items():
        print(f"  {k}: best {1e3 * best[k]:.1f} ms, median {1e3 * statistics.median(v):.1f} ms")
    return best["dpo (16 pairs)"] / best["sft (same 32 sequences)"], best["dpo (16 pairs)"] / best["sft (16 chosen)"]


def bench_real_judging() -> tuple[float, float]:
    from paperzoo.core.pretrained import SMOLLM2, model_folder
    from paperzoo.self_rewarding.gap import judge_pairs
    from paperzoo.self_rewarding.policy import load_policy

    policy = load_policy(model_folder(SMOLLM2))
    policy.model.eval()
    pairs = judge_pairs("eft_eval", 0, per_family=1)[:2]
    ids = [policy.fmt.judge_prompt_ids(p.task.prompt, r) for p in pairs for r in p.responses]
    new_tokens = 8
    kw = dict(n=1, max_new_tokens=new_tokens, eos_id=-1, pad_id=policy.fmt.pad_id, temperature=0.0)
    fns = {
        "naive": lambda: generate(policy.model, ids, use_cache=False, share_prefix=0, **kw),
        "cached": lambda: generate(policy.model, ids, share_prefix=0, **kw),
        "cached + shared prefix": lambda: generate(policy.model, ids, share_prefix=32, **kw),
    }
    assert fns["cached"]() == fns["cached + shared prefix"]() == fns["naive"]()  # the same tokens
    times = interleaved(fns, repeats=1, warmup=0)
    best = {k: min(v) for k, v in times.items()}
    from paperzoo.core.generation import shared_prefix_length

    tokens = len(ids) * new_tokens
    print(f"smollm2 judging: {len(ids)} Fig. 2 prompts of {min(map(len, ids))}-{max(map(len, ids))} tokens "
          f"({shared_prefix_length(ids)} shared) x {new_tokens} new tokens; "
          + ", ".join(f"{k} {tokens / v:.1f} tokens/s ({v:.1f} s)" for k, v in best.items()))
    return best["naive"] / best["cached"], best["cached + shared prefix"] / best["cached"]


def bench_real_eft_step() -> float:
    """One SFT step (forward and backward, every weight) of SmolLM2 on 4 EFT examples (a Fig. 2
    judge prompt and its checker-written judgment each): the shared-prefix path against the plain
    one (time; target <= 0.7). Returns shared / plain."""
    from paperzoo.core.pretrained import SMOLLM2, model_folder
    from paperzoo.self_rewarding.data import checkable_judge_groups, eft_examples
    from paperzoo.self_rewarding.policy import load_policy

    policy = load_policy(model_folder(SMOLLM2))
    policy.model.train()
    examples = eft_examples(checkable_judge_groups("eft_train", 2, 0))[:4]
    batch = tokenize_pairs(policy.fmt, [x for x, _ in examples], [y for _, y in examples])

    losses = {}

    def step(share):
        def run():
            policy.model.zero_grad(set_to_none=True)
            loss = sft_loss(policy.model, batch, share_prefix=share)["loss"]
            loss.backward()
            losses[share] = float(loss.detach())
        return run

    fns = {"plain": step(0), "shared prefix": step(32)}
    times = interleaved(fns, repeats=2, warmup=0)
    assert abs(losses[32] - losses[0]) <= 1e-4 * abs(losses[0]), losses  # the same loss (and gradient: test_lm.py)
    best = {k: min(v) for k, v in times.items()}
    print(f"smollm2 EFT SFT step: 4 examples of {batch['attention_mask'].sum(-1).tolist()} tokens; loss {losses[0]:.5f} "
          f"plain, {losses[32]:.5f} shared; " + ", ".join(f"{k} {v:.1f} s" for k, v in best.items()))
    return best["shared prefix"] / best["plain"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer prompts and repeats")
    parser.add_argument("--real", action="store_true", help="also judging on SmolLM2-135M-Instruct (real weights)")
    args = parser.parse_args()
    torch.set_num_threads(2)
    repeats = 3 if args.quick else 7
    prompts = 32 if args.quick else 64
    print(f"tiny model: {sum(p.numel() for p in _policy('tiny').model.parameters()):,} parameters; "
          f"wide: {sum(p.numel() for p in _policy(WIDE).model.parameters()):,}")
    gen_tiny = bench_generation("tiny", "tiny", prompts, repeats)
    gen_wide = bench_generation("wide", WIDE, prompts // 2, repeats)
    print("DPO vs SFT step (tiny, batch of 16 pairs):")
    same, per_pair = bench_dpo_vs_sft(repeats * 3)
    print(f"ratio generation_tokens_per_s_kv_cache_vs_naive_tiny = {gen_tiny:.2f} (target >= 2)")
    print(f"ratio generation_tokens_per_s_kv_cache_vs_naive_wide = {gen_wide:.2f} (target >= 2)")
    print(f"ratio dpo_step_vs_sft_step_same_batch = {same:.2f} (target <= 2.2)")
    print(f"ratio dpo_step_vs_sft_step_chosen_only = {per_pair:.2f} (target <= 3.0)")
    if args.real:
        kv, shared = bench_real_judging()
        print(f"ratio judging_tokens_per_s_kv_cache_vs_naive_smollm2 = {kv:.2f} (target >= 3)")
        print(f"ratio judging_time_shared_prefix_vs_kv_cache_smollm2 = {shared:.2f} (target <= 0.8)")
        print(f"ratio eft_sft_step_time_shared_prefix_vs_plain_smollm2 = {bench_real_eft_step():.2f} (target <= 0.7)")


if __name__ == "__main__":
    main()
