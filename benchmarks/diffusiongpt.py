"""DiffusionGPT's cost, side by side in one run (issue 17).

1. Routing overhead: parse + tree search + database look-up + selection + extension for one
   input, against drawing its image (the tiny world model, 10 DDIM steps with guidance, batch
   1). Target with the rule controller: routing / generation <= 0.1. With --smollm2 the same
   for SmolLM2-135M-Instruct as the controller (reported, no target: every step is an LLM call).
2. Database look-up over 100k stored prompts (384-d, MiniLM's width): one matrix product and
   top-k, against the linear scan (one dot product per stored prompt, then a sort).
   Target: look-up / scan <= 0.1.

    python benchmarks/diffusiongpt.py            # 20 inputs; 100k prompts
    python benchmarks/diffusiongpt.py --quick    # 8 inputs; 20k prompts
    python benchmarks/diffusiongpt.py --smollm2  # also the real controller
"""

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from paperzoo.core.measure import best_of
from paperzoo.diffusiongpt.data import STYLE_WORDS, SUBJECT_WORDS, database_prompts, user_inputs
from paperzoo.diffusiongpt.database import AdvantageDatabase, HashedTfidf, linear_scan_top, prompt_key
from paperzoo.diffusiongpt.llm import HFCausalLM, RuleLLM
from paperzoo.diffusiongpt.pipeline import DiffusionGPT
from paperzoo.diffusiongpt.tree import build_tree
from paperzoo.diffusiongpt.zoo import UNIVERSAL, ZooBudget, train_zoo
from paperzoo.world.styles import StyledConfig


def timing_zoo(root: Path):
    """The tiny zoo's architecture with one training step each: timing does not need trained weights."""
    return train_zoo(root, ZooBudget(base_steps=1, expert_steps=1, batch_size=2), progress=False)


def routing_vs_generation(pipe: DiffusionGPT, texts: list[str]) -> tuple[float, float]:
    route, draw = [], []
    for i, text in enumerate(texts):
        t0 = time.perf_counter()
        trace = pipe.route(text)
        route.append(time.perf_counter() - t0)
        noise = torch.randn(1, 3, 32, 32, generator=torch.Generator().manual_seed(i))
        pipe.zoo.model(trace.model)  # loading is not generation
        t0 = time.perf_counter()
        pipe.zoo.generate(trace.model, [trace.prompt], noise)
        draw.append(time.perf_counter() - t0)
    return float(np.median(route)), float(np.median(draw))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--smollm2", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(2)
    n_inputs, n_db = (8, 20_000) if args.quick else (20, 100_000)
    world = StyledConfig()
    with tempfile.TemporaryDirectory() as tmp:
        zoo = timing_zoo(Path(tmp) / "zoo")
        prompts = database_prompts(world, 0, 240)
        rng = np.random.default_rng(0)
        scores = {prompt_key(p): {k: {"image_reward": float(rng.random())} for k in zoo.keys()} for p in prompts}
        db = AdvantageDatabase.build(prompts, scores, HashedTfidf().fit(prompts))
        texts = user_inputs(world, 0, n_inputs).texts
        rule = RuleLLM(SUBJECT_WORDS, STYLE_WORDS)
        pipe = DiffusionGPT(rule, zoo, build_tree(rule, zoo.cards, UNIVERSAL), db)
        print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; {n_inputs} inputs, median per input\n")
        print("| controller | routing | generation (1 image, 10 DDIM steps, guidance) | routing / generation |")
        print("| --- | --- | --- | --- |")
        r, g = routing_vs_generation(pipe, texts)
        print(f"| rule | {r * 1e3:.1f} ms | {g * 1e3:.0f} ms | {r / g:.3f} |", flush=True)
        ratios = {"routing_overhead_over_generation_rule": (r / g, "<= 0.1")}
        if args.smollm2:
            llm = HFCausalLM.smollm2()
            smol = DiffusionGPT(llm, zoo, build_tree(llm, zoo.cards, UNIVERSAL), db)
            r2, g2 = routing_vs_generation(smol, texts[: max(2, n_inputs // 4)])
            print(f"| SmolLM2-135M-Instruct | {r2:.1f} s | {g2 * 1e3:.0f} ms | {r2 / g2:.1f} |", flush=True)

    d, k = 384, 5
    emb = torch.nn.functional.normalize(torch.randn(n_db, d, generator=torch.Generator().manual_seed(0)), dim=1)
    stored = AdvantageDatabase([f"p{i}" for i in range(n_db)], emb, {f"p{i}": {} for i in range(n_db)}, "random")
    query = torch.nn.functional.normalize(torch.randn(d), dim=0)
    fast = stored.top_prompts(query, k)[0]
    slow = linear_scan_top(emb.numpy(), query.numpy(), k)
    assert fast == slow, (fast, slow)
    t_fast = best_of(lambda: stored.top_prompts(query, k))
    t_slow = best_of(lambda: linear_scan_top(emb.numpy(), query.numpy(), k), repeats=1)
    print(f"\nDatabase look-up over {n_db:,} prompts (d = {d}, top {k}; the same indices):\n")
    print("| matrix product + top-k | linear scan | ratio | embeddings in memory |")
    print("| --- | --- | --- | --- |")
    print(f"| {t_fast * 1e3:.2f} ms | {t_slow * 1e3:.0f} ms | {t_fast / t_slow:.4f} | {emb.numel() * 4 / 2**20:.0f} MiB |")
    ratios["db_lookup_over_linear_scan"] = (t_fast / t_slow, "<= 0.1")
    print()
    for name, (value, target) in ratios.items():
        print(f"ratio {name} = {value:.4f} (target {target})")


if __name__ == "__main__":
    main()
