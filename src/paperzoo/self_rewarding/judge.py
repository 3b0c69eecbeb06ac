"""LLM-as-a-Judge (paper §2.3, Fig. 2): the model scores its own responses.

The prompt asks for an additive 5-point score: one point per criterion met (relevance,
coverage, usefulness, clarity, expertise), a justification of at most 100 words, then
"Score: <total points>". The reward of candidate n for prompt i is the mean of 3 sampled
judgments (§3.1.3, the response decoding: T = 0.7, p = 0.9),

    r_i^n = (1/3) Σ_{k=1..3} s_k,    s_k = parse(judgment_k) ∈ [0, 5].

The paper does not say what it does with a judgment that has no score; App. A.3 reports
only that judges without EFT training often "fail to output the score in the proper
format", yielding far fewer pairs. `parse_fail="drop"` (default) leaves such judgments
out of the mean, and a candidate with no parseable judgment out of the ranking;
"zero" counts them as 0 (so they become y^l).

The Fig. 2 text below is the paper's, checked against four independent copies (the PDF
copy of lucidrains/self-rewarding-lm-pytorch, FLAME's reprint, bytedance/AIPO, Labonne's
notes); straight quotes and blank lines between blocks are our reading of its layout.
"""

from __future__ import annotations

import math
import re
from typing import Sequence

import numpy as np

JUDGE_PROMPT = """Review the user's question and the corresponding response using the additive 5-point scoring system described below. Points are accumulated based on the satisfaction of each criterion:

- Add 1 point if the response is relevant and provides some information related to the user's inquiry, even if it is incomplete or contains some irrelevant content.
- Add another point if the response addresses a substantial portion of the user's question, but does not completely resolve the query or provide a direct answer.
- Award a third point if the response answers the basic elements of the user's question in a useful way, regardless of whether it seems to have been written by an AI Assistant or if it has elements typically found in blogs or search results.
- Grant a fourth point if the response is clearly written from an AI Assistant's perspective, addressing the user's question directly and comprehensively, and is well-organized and helpful, even if there is slight room for improvement in clarity, conciseness or focus.
- Bestow a fifth point for a response that is impeccably tailored to the user's question by an AI Assistant, without extraneous information, reflecting expert knowledge, and demonstrating a high-quality, engaging, and insightful answer.

User: {instruction}
<response>{response}</response>

After examining the user's instruction and the response:

- Briefly justify your total score, up to 100 words.
- Conclude with the score using the format: "Score: <total points>"

Remember to assess from the AI Assistant perspective, utilizing web search knowledge as necessary. To evaluate the response in alignment with this additive scoring model, we'll systematically attribute points based on the outlined criteria."""

MAX_SCORE = 5.0

# "Score: 4", "score: 3.5", "**Score:** 5", "Score: 4/5", "Score = 2"; the last one in the text counts
# (the prompt asks to *conclude* with it, and a justification may quote the format first).
_SCORE = re.compile(r"score\s*(?:\*\*)?\s*[:=]\s*(?:\*\*)?\s*(\d+(?:\.\d+)?)(?:\s*/\s*5)?", re.IGNORECASE)


def judge_prompt(instruction: str, response: str) -> str:
    """The Fig. 2 prompt for one (instruction, response) pair."""
    return JUDGE_PROMPT.format(instruction=instruction, response=response)


def parse_judge_score(text: str) -> float | None:
    """The score a judgment concludes with, or None when it has none in 0..5.

    >>> parse_judge_score("Relevant and complete. Score: 4")
    4.0
    >>> parse_judge_score("I cannot rate this.") is None
    True
    """
    if not isinstance(text, str):
        return None
    matches = _SCORE.findall(text)
    if not matches:
        return None
    score = float(matches[-1])
    return score if 0.0 <= score <= MAX_SCORE else None


def reward(scores: Sequence[float | None], parse_fail: str = "drop") -> float | None:
    """r = the mean of a candidate's parsed judgment scores (None: no usable judgment)."""
    if parse_fail == "zero":
        values = [0.0 if s is None else float(s) for s in scores]
    elif parse_fail == "drop":
        values = [float(s) for s in scores if s is not None]
    else:
        raise ValueError(f"parse_fail must be 'drop' or 'zero', got {parse_fail!r}")
    return float(np.mean(values)) if values else None


def judge(
    policy,
    fmt,
    instructions: Sequence[str],
    responses: Sequence[Sequence[str]],
    *,
    judgments: int = 3,
    temperature: float = 0.7,
    top_p: float = 0.9,
    max_new_tokens: int = 256,
    generator=None,
    batch_size: int = 256,
    progress: bool = False,
    return_texts: bool = False,
):
    """Sample `judgments` judgments of every response; scores[i][n][k] (None: unparseable).

    responses[i] are the candidates for instructions[i]; `fmt` is a formats.Format. With
    `return_texts`, returns (scores, texts) with the judgment texts texts[i][n][k] (a world
    judgment as `formats.judgment_text` writes it: "answer A | criteria ... Score: k").
    """
    from paperzoo.core.generation import generate

    flat = [(i, n) for i, cands in enumerate(responses) for n in range(len(cands))]
    kw = dict(temperature=temperature, top_p=top_p, generator=generator, batch_size=batch_size, progress=progress)
    scores: list[list[list[float | None]]] = [[[] for _ in cands] for cands in responses]
    texts: list[list[list[str]]] = [[[] for _ in cands] for cands in responses]
    if fmt.style == "world":  # two stages: the judge's own answer, then the verdict on the response
        firsts = [fmt.judge_answer_ids(instructions[i]) for i, _ in flat]
        answers = generate(policy, firsts, n=judgments, max_new_tokens=max_new_tokens, eos_id=fmt.arrow_id,
                           pad_id=fmt.pad_id, desc="judge: answers", **kw)
        seconds = [fmt.judge_verdict_ids(instructions[i], a, responses[i][n]) for (i, n), runs in zip(flat, answers) for a in runs]
        verdicts = generate(policy, seconds, n=1, max_new_tokens=max_new_tokens, eos_id=fmt.eos_id, pad_id=fmt.pad_id,
                            desc="judge: verdicts", **kw)
        verdict_texts = [fmt.decode(v[0]) for v in verdicts]
        own = [fmt.decode(a) for runs in answers for a in runs]
        flat_texts = [f"answer {a} | {v}" for a, v in zip(own, verdict_texts)]
        for j, (i, n) in enumerate(flat):
            texts[i][n] = flat_texts[j * judgments: (j + 1) * judgments]
            scores[i][n] = [parse_judge_score(t) for t in verdict_texts[j * judgments: (j + 1) * judgments]]
        return (scores, texts) if return_texts else scores
    prompts = [fmt.judge_prompt_ids(instructions[i], responses[i][n]) for i, n in flat]
    outs = generate(policy, prompts, n=judgments, max_new_tokens=max_new_tokens, eos_id=fmt.eos_id,
                    pad_id=fmt.pad_id, desc="judge", **kw)
    for (i, n), samples in zip(flat, outs):
        texts[i][n] = [fmt.decode(s) for s in samples]
        scores[i][n] = [parse_judge_score(t) for t in texts[i][n]]
    return (scores, texts) if return_texts else scores


def rewards(scores: list[list[list[float | None]]], parse_fail: str = "drop") -> list[list[float | None]]:
    """r_i^n for every candidate from `judge`'s scores."""
    return [[reward(s, parse_fail) for s in cands] for cands in scores]


def parse_rate(scores: list[list[list[float | None]]]) -> float:
    """The fraction of judgments with a parseable score (logged each iteration)."""
    flat = [s for cands in scores for c in cands for s in c]
    return sum(s is not None for s in flat) / len(flat) if flat else math.nan
