"""DiffusionGPT: LLM-Driven Text-to-Image Generation System (Qin et al., arXiv 2401.10061; v2 renamed
DiffusionAgent).

An LLM controller parses a user's input, walks a tree of models built from their tags, picks a
model with the help of an advantage database of reward-ranked results on similar prompts,
extends the prompt in that model's style, and generates. Nothing is trained in the method
itself; the zoo and the reward models here are trained on the world because none can be
downloaded.

Where each part of the paper lives:
    §II-A prompt parse (and every reply parser, with counted fallbacks)   parse.py
    Fig. 3 the controller's prompts                                        prompts.py
    the controllers: rule, any local HF causal LM, SmolLM2                 llm.py
    §II-B Tree-of-Thought of models: build and search                     tree.py
    §II-C the advantage database (top-5 prompts, top-5 models each)       database.py
    §II-C building it: draw every prompt with every model, score it       builddb.py
    ImageReward from a local checkpoint (the paper's reward)               imagereward.py
    §II-C/D selection, prompt extension, generation; the routing trace    pipeline.py
    Table I model cards (the official schema)                             cards.py
    the zoo: base, LoRA experts, merge (on paperzoo.diffusion)            zoo.py
    the ImageReward and aesthetic analogues                               rewards.py
    user inputs in §II-A's four paradigms, the database prompts           data.py
    Table II and the ablations at small scale                            reproduce.py

    >>> from paperzoo.diffusiongpt import DiffusionGPT, Routing, RuleLLM
"""

from paperzoo.diffusiongpt.llm import HFCausalLM, RuleLLM
from paperzoo.diffusiongpt.pipeline import DiffusionGPT, Routing, Trace

__all__ = ["DiffusionGPT", "HFCausalLM", "Routing", "RuleLLM", "Trace"]
