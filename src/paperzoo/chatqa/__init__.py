"""ChatQA (Liu et al., NVIDIA, arXiv 2401.10225): two-stage conversational QA tuning and a
dialogue-history retriever, with ChatRAG-Bench scoring.

Where each part of the paper lives:
    §3.1 stage-1 SFT, §3.2 stage-2 context-enhanced instruction tuning, App. A template
                         template.py (App. A prompt and instructions), blends.py (the data blends),
                         tuning.py (both stages), generator.py (the tiny decoder / any HF causal LM),
                         data.py (both stages on NVIDIA's ChatQA-Training-Data folder or user JSONL)
    §3.2.3 unanswerable turns      paperzoo.world.conversations (the deletion rule), blends.py
    §4 retrieval for multi-turn QA retriever.py (dual encoder), contrastive.py (the loss),
                                   retrieval_train.py (single-turn, then multi-turn), rewrite.py (baseline)
    §5 ChatRAG-Bench, App. C       bench.py (the JSON layout), scoring.py (F1, EM, refusal, Avg-Both),
                                   template.py (App. C.2 tables as Markdown rows)
    local documents                docs.py (chunking a folder)
"""
