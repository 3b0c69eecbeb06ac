"""Self-Rewarding Language Models (Yuan, Pang, Cho, Li, Sukhbaatar, Xu, Weston; arXiv
2401.10020, ICML 2024): one model follows instructions and judges its own responses
(LLM-as-a-Judge), and iterative DPO on its self-judged preference pairs improves both.

Where each part of the paper lives:
    §2.1 seed data: IFT, EFT (and the world's checkable tasks)      data.py (world/instructions.py)
    §2.2 self-instruction: prompts, N candidates (T, top-p)         loop.py (sampler: core/generation.py)
    §2.3 LLM-as-a-Judge: the Fig. 2 prompt, score parsing, r_i^n     judge.py
    §2.4 AIFT pairs (best vs worst, ties dropped); DPO               pairs.py, dpo.py
    §2.5 / Fig. 1 the iterations M1 -> M2 -> M3                      loop.py
    §3.1 models and hyperparameters (named configs)                 config.py (LMConfig: core/lm.py)
    §3.1.3 SFT and DPO training, early stopping                      train.py
    §3.1.2 evaluation: instruction following, Table 4 judge metrics evaluate.py
    a real model's gap: answering vs judging checkable tasks        gap.py (world/checkable.py)
    the models (tiny world Llama; any local HF causal LM)           policy.py, formats.py
    the small-scale experiment and its figure                       reproduce.py, plots.py
    the experiment on the real model (SmolLM2-135M-Instruct)        reproduce_real.py

    >>> from paperzoo.self_rewarding import dpo_loss, parse_judge_score
    >>> parse_judge_score("Relevant, complete and direct. Score: 4")
    4.0
"""

from paperzoo.self_rewarding.dpo import dpo_loss, sequence_logps
from paperzoo.self_rewarding.judge import JUDGE_PROMPT, judge_prompt, parse_judge_score
from paperzoo.self_rewarding.pairs import PreferencePair, preference_pairs

__all__ = ["JUDGE_PROMPT", "PreferencePair", "dpo_loss", "judge_prompt", "parse_judge_score", "preference_pairs", "sequence_logps"]
