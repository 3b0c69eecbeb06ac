"""`paperzoo chatqa ...`: answer questions over local documents (`chat`), and score ChatRAG-Bench
predictions as the official get_scores.py does (`score`).

torch is imported inside commands only, so `--help` is instant.
"""

import json
from pathlib import Path

import click

from paperzoo.core.cli import Group, device_option, model_option, out_option, reproduce_command, seed_option


@click.group(cls=Group)
def cli():
    """ChatQA: two-stage conversational QA tuning, a dialogue retriever, and ChatRAG-Bench scoring (arXiv 2401.10225)."""


def _fmt(value, width=7):
    return f"{value:{width}.2f}" if value is not None else f"{'-':>{width}}"


def format_scores(scores: dict, summary: dict) -> str:
    """A readable table: one row per file, then the paper's Average and Avg-Both."""
    lines = [f"{'dataset':<14}{'n':>6}  {'score':>7}{'':4}{'F1':>7}{'EM':>7}{'no':>8}{'yes':>7}{'no/yes':>8}"]
    for name, s in scores.items():
        lines.append(f"{name:<14}{s.n:>6}  {_fmt(s.score)} {s.metric:<3}{_fmt(s.f1)}{_fmt(s.em)}"
                     f" {_fmt(s.unanswerable_acc)}{_fmt(s.answerable_acc)} {_fmt(s.avg_no_yes)}")
    if len(summary["datasets"]) > 1:
        lines.append(f"Average over {len(summary['datasets'])} datasets ({', '.join(summary['datasets'])}): "
                     f"{summary['average']:.2f}")
    if "avg_both" in summary and len(summary["no_yes"]) > 1:
        lines.append(f"Avg-Both over {', '.join(summary['no_yes'])} (per dataset (no + yes)/2, then the mean): "
                     f"{summary['avg_both']:.2f}")
    for name, s in scores.items():
        lines += [f"note ({name}): {n}" for n in s.notes]
    lines.append("All numbers in percent; score = F1 (ConvFinQA: EM, the official containment rule); "
                 "no/yes = unanswerable/answerable accuracy; EM besides F1 is ours.")
    return "\n".join(lines)


def _read_index_list(path: Path | None):
    from paperzoo.core.errors import InputError

    if path is None:
        return None
    try:
        value = json.loads(Path(path).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise InputError(f"--quac-index-list {path}: not a readable JSON file ({err})") from None
    if not isinstance(value, list) or not all(isinstance(i, int) and not isinstance(i, bool) for i in value):
        raise InputError(f"--quac-index-list {path}: expected a JSON list of integers")
    return value


def _prediction_file(folder: Path, name: str) -> Path | None:
    for suffix in (".txt", ".jsonl"):
        if (folder / f"{name}{suffix}").is_file():
            return folder / f"{name}{suffix}"
    return None


@cli.command()
@click.argument("pred", type=click.Path(path_type=Path))
@click.argument("gold", type=click.Path(path_type=Path))
@click.option("--dataset", default=None, metavar="NAME",
              help="Which dataset (doc2dial, quac, qrecc, topiocqa, inscit, coqa, doqa_cooking, doqa_travel, "
                   "doqa_movies, convfinqa, sqa, hybridial, world). Needed when GOLD is a folder; read from the "
                   "file's official path (e.g. quac/test.json) otherwise.")
@click.option("--quac-index-list", type=click.Path(path_type=Path), default=None,
              help="QuAC: a JSON list of the answerable turns (by position among them) whose retrieved top-5 held the "
                   "gold chunk, as the official script's list; only those count for the answerable accuracy.")
@click.option("--json", "as_json", is_flag=True, help="Print the metrics as JSON.")
@out_option(None, "Also write the metrics as JSON to this file (written atomically).")
def score(pred, gold, dataset, quac_index_list, as_json, out):
    """Score PRED against GOLD as ChatRAG-Bench's get_scores.py does.

    PRED: one answer per line (read as get_scores.py reads it: each line stripped), or a .jsonl
    file of {"answer": ...} lines. GOLD: a ChatRAG-Bench JSON file, or its data folder (the official
    layout) with --dataset. With PRED a folder of NAME.txt / NAME.jsonl files and GOLD the data
    folder, every dataset found in both is scored and the paper's Average and Avg-Both printed.
    """
    from paperzoo.chatqa.bench import gold_file, score_file
    from paperzoo.chatqa.scoring import RULES, combine
    from paperzoo.core.errors import InputError

    ordinals = _read_index_list(quac_index_list)
    if pred.is_dir():
        if not gold.is_dir():
            raise InputError(f"{pred} is a folder of predictions: GOLD must be the benchmark's data folder, got {gold}")
        names = [dataset] if dataset is not None else list(RULES)
        if dataset is not None:
            gold_file(gold, dataset)          # one clear error for an unknown name or a missing file
        pairs = [(n, _prediction_file(pred, n)) for n in names if (gold / RULES[n].file).is_file()]
        pairs = [(n, p) for n, p in pairs if p is not None]
        if not pairs:
            raise InputError(f"{pred}: no NAME.txt or NAME.jsonl here matches a benchmark file under {gold}")
        scores = {n: score_file(p, gold, n, ordinals if n == "quac" else None) for n, p in pairs}
    else:
        path, name = gold_file(gold, dataset)
        scores = {name: score_file(pred, path, name, ordinals if name == "quac" else None)}
    summary = combine(scores)
    result = {"datasets": {n: s.to_dict() for n, s in scores.items()}, "summary": summary}
    if out is not None:
        from paperzoo.core.atomic import atomic_path

        with atomic_path(out) as tmp:
            tmp.write_text(json.dumps(result, indent=1) + "\n")
    click.echo(json.dumps(result, indent=1) if as_json else format_scores(scores, summary))
    if out is not None and not as_json:
        click.echo(f"wrote {out}")


def load_retriever(value: str, device: str = "cpu"):
    """A retriever named like a model: a registered config ("minilm", "dragon-multiturn", ...),
    a folder written by `DualEncoder.save_pretrained`, or one plain HF encoder folder (used for
    both the query and the context side)."""
    from paperzoo.chatqa.config import RETRIEVERS
    from paperzoo.chatqa.retriever import RETRIEVER_FILE, DualEncoder
    from paperzoo.core.errors import CheckpointError

    path = Path(value)
    if path.is_dir():
        model = DualEncoder.from_pretrained(path) if (path / RETRIEVER_FILE).is_file() else DualEncoder.from_folders(path, path)
    elif value in RETRIEVERS.names():
        if value == "tiny":
            raise CheckpointError("--retriever tiny is an untrained world-vocabulary encoder; for documents use "
                                  "minilm, a Dragon folder, or a folder trained by the ChatQA retriever")
        model = DualEncoder.build(value)
    else:
        raise CheckpointError(f"--retriever {value!r}: no such folder, and not a named retriever "
                              f"({', '.join(n for n in RETRIEVERS.names() if n != 'tiny')})")
    return model.to(device).eval()


@cli.command()
@click.option("--docs", type=click.Path(path_type=Path), required=True,
              help="A folder of .txt / .md files (searched recursively) to answer from.")
@model_option("smollm2-135m-instruct", "The generator: a folder tuned by ChatQA's two stages, "
              "smollm2-135m-instruct (real weights, offline), or any local Hugging Face causal-LM folder.")
@click.option("--retriever", default="minilm", show_default=True, metavar="NAME|FOLDER",
              help="The dual encoder: minilm (real weights, offline), dragon-plus / dragon-multiturn (local "
                   "folders), a folder trained by the ChatQA retriever, or one local HF encoder folder.")
@click.option("--question", "-q", "questions", multiple=True,
              help="A question; repeat it for a multi-turn conversation (later questions may say 'it'). "
                   "Without it, questions are read from stdin, one per line.")
@click.option("--top-k", default=5, show_default=True, help="Chunks given to the generator (the paper: top-5).")
@click.option("--chunk-words", default=300, show_default=True, help="Chunk size in words (the paper: about 300).")
@click.option("--max-new-tokens", default=128, show_default=True)
@click.option("--show-chunks/--hide-chunks", default=True, show_default=True, help="Print the retrieved chunks.")
@device_option
@seed_option
def chat(docs, model, retriever, questions, top_k, chunk_words, max_new_tokens, show_chunks, device, seed):
    """Answer questions over a folder of your own documents: chunk, retrieve with the whole
    conversation as the query, then generate from the App. A prompt with the top-k chunks."""
    import sys

    import torch

    from paperzoo.chatqa.docs import chunk_folder
    from paperzoo.chatqa.generator import load_generator
    from paperzoo.chatqa.pipeline import ChatPipeline
    from paperzoo.core.cli import resolve_device

    torch.manual_seed(seed)
    device = resolve_device(device)
    chunks = chunk_folder(docs, words=chunk_words)
    click.echo(f"{len(chunks)} chunks from {docs}; loading the retriever ({retriever}) and the generator ({model}) ...",
               err=True)
    generator = load_generator(model)
    generator.model.to(device).eval()
    pipeline = ChatPipeline(load_retriever(retriever, device), generator, [(c.id, c.text) for c in chunks], top_k=top_k)
    interactive = not questions
    source = questions or (line.strip() for line in sys.stdin)
    messages: list[dict] = []
    for question in source:
        if not question:
            continue
        messages.append({"role": "user", "content": question})
        answer, retrieved = pipeline.answer(messages, max_new_tokens=max_new_tokens)
        messages.append({"role": "assistant", "content": answer})
        if show_chunks:
            for r in retrieved:
                snippet = " ".join(r.text.split())[:100]
                click.echo(f"  [{r.score:7.3f}] {r.id}: {snippet}...")
        click.echo(f"Q: {question}\nA: {answer}")
        if interactive:
            click.echo("")


@cli.command()
@click.option("--part", type=click.Choice(["generator", "retriever"]), default="generator", show_default=True,
              help="generator: stage 1 then stage 2 (§3); retriever: single-turn then multi-turn fine-tuning (§4).")
@model_option("tiny", "Where to start: a named config (generator: tiny, tiny-ci, smollm2-135m-instruct; retriever: "
              "tiny, minilm, dragon-plus, dragon-multiturn) or a local Hugging Face folder.")
@out_option("runs/chatqa", "Run folder: generator -> OUT/stage1/model, OUT/stage2/model; retriever -> OUT/single/model, "
            "OUT/multi/model.")
@click.option("--recipe", default=None, help="Generator: tiny (default), smollm2, release. Retriever: the stage recipes "
              "are tiny-single/tiny-multi, or minilm-single/minilm-multi for MiniLM (default by --model).")
@click.option("--stages", default="1,2", show_default=True, help="Which stages: 1,2 / 1 / 2.")
@click.option("--conversations", type=click.Path(path_type=Path), default=None,
              help="Retriever only: your own JSONL conversations ({messages, chunks} per line; gold chunks by the "
                   "paper's 4-gram recall rule) for the multi-turn stage instead of the world's dialogues.")
@click.option("--data", type=click.Path(path_type=Path), default=None, metavar="FOLDER_OR_JSONL",
              help="Generator, stage 2: a local ChatQA-Training-Data folder (drop/, narrativeqa/, ..., sft/; every source "
                   "drawn by the ChatQA-1.5 card's weights) or a JSONL of your conversations. Default: the world blend.")
@click.option("--sft-data", type=click.Path(path_type=Path), default=None, metavar="JSONL_OR_FOLDER",
              help="Generator, stage 1: a JSONL (its records without context) or a ChatQA-Training-Data folder (its sft/). "
                   "Default: --data's sft/ when --data is such a folder, else the world's SFT tasks.")
@click.option("--lora-rank", type=int, default=None, help="Generator: > 0 trains LoRA adapters (ours; the paper tunes all weights).")
@click.option("--steps", type=int, default=None, help="Override every stage's step count (default: the recipe's).")
@click.option("--resume", is_flag=True, help="Continue an interrupted run from its checkpoints.")
@device_option
@seed_option
def train(part, model, out, recipe, stages, conversations, data, sft_data, lora_rank, steps, resume, device, seed):
    """Train ChatQA's generator (two-stage tuning) or its retriever on the conversational world,
    or the generator on local data (--data, --sft-data). Under `accelerate launch`, use
    `python -m paperzoo.chatqa.tuning` (the same code, the same flags)."""
    from dataclasses import replace

    from paperzoo.core.cli import resolve_device

    device = resolve_device(device)
    chosen = set(stages.split(","))
    if not chosen or not chosen <= {"1", "2"}:
        raise click.BadParameter(f"{stages!r}; expected 1,2 or 1 or 2", param_hint="--stages")
    if part == "retriever" and (data is not None or sft_data is not None):
        raise click.BadParameter("--data and --sft-data train the generator; the retriever reads --conversations",
                                 param_hint="--data")
    if part == "generator":
        from paperzoo.chatqa import data as local_data
        from paperzoo.chatqa.config import recipe as get_recipe
        from paperzoo.chatqa.generator import load_generator
        from paperzoo.chatqa.tuning import two_stage

        rec = get_recipe(recipe or "tiny")
        if lora_rank is not None:
            rec = replace(rec, lora_rank=lora_rank)
        if steps is not None:
            rec = replace(rec, stage1=replace(rec.stage1, steps=steps), stage2=replace(rec.stage2, steps=steps))
        stage1, stage2 = local_data.stage_sources(seed, data, sft_data, rec.unanswerable, chosen)
        for k, source in enumerate((stage1, stage2), start=1):
            if isinstance(source, local_data.TrainingData):
                click.echo(f"stage {k}: {source.summary()}", err=True)
        gen = load_generator(model)
        if gen.kind == "world":
            where = "on the world" if data is None and sft_data is None else \
                "on local data with the world's word vocabulary (other words become <unk>)"
            click.echo(f"training a {sum(p.numel() for p in gen.model.parameters()) / 1e6:.1f}M-parameter generator "
                       f"from scratch {where} (stages {stages}) ...", err=True)
        two_stage(gen, rec, out, stage1=stage1, stage2=stage2, device=device, resume=resume)
        click.echo(f"wrote {Path(out) / ('stage2' if '2' in chosen else 'stage1') / 'model'}")
        return
    from paperzoo.chatqa.retrieval_train import (chunk_table, conversation_pairs, multi_turn_pairs, single_turn_pairs,
                                                 train_retriever)
    from paperzoo.world import conversations as world

    retriever = load_retriever(model, device) if model != "tiny" else None
    if retriever is None:
        from paperzoo.chatqa.retriever import DualEncoder

        retriever = DualEncoder.build("tiny", seed=seed)
    from paperzoo.chatqa.config import retrieval_recipe

    real = model != "tiny"
    single, multi = (retrieval_recipe(n) for n in (("minilm-single", "minilm-multi") if real else ("tiny-single", "tiny-multi")))
    if steps is not None:
        single, multi = replace(single, steps=steps), replace(multi, steps=steps)
    dialogues = world.dialogues("train", seed, 600)
    chunks = chunk_table(world.corpus("train", seed))
    if "1" in chosen:
        train_retriever(retriever, single_turn_pairs(dialogues), chunks, single, Path(out) / "single", seed=seed,
                        device=device, resume=resume, progress=True, desc="retriever single-turn")
    if "2" in chosen:
        pairs, table = conversation_pairs(conversations) if conversations else (multi_turn_pairs(dialogues), chunks)
        train_retriever(retriever, pairs, table, multi, Path(out) / "multi", seed=seed, device=device, resume=resume,
                        progress=True, desc="retriever multi-turn")
    click.echo(f"wrote {Path(out) / ('multi' if '2' in chosen else 'single') / 'model'}")


@cli.command()
@click.option("--docs", type=click.Path(path_type=Path), required=True, help="A folder of .txt / .md files.")
@click.option("--retriever", default="minilm", show_default=True, metavar="NAME|FOLDER",
              help="The dual encoder (as for `chat`).")
@click.option("--question", "-q", "questions", multiple=True, required=True,
              help="The conversation's user turns in order; the last one is searched for, with the others as history.")
@click.option("--top-k", default=5, show_default=True)
@click.option("--chunk-words", default=300, show_default=True)
@device_option
def retrieve(docs, retriever, questions, top_k, chunk_words, device):
    """Show the top-k chunks of a folder for a conversation (the retriever alone, no generator)."""
    from paperzoo.chatqa.docs import chunk_folder
    from paperzoo.chatqa.retriever import format_query, search
    from paperzoo.core.cli import resolve_device

    chunks = chunk_folder(docs, words=chunk_words)
    model = load_retriever(retriever, resolve_device(device))
    query = format_query([(q, "") for q in questions[:-1]], questions[-1])
    scores, top = search(model.encode_queries([query]), model.encode_contexts([c.text for c in chunks]),
                         min(top_k, len(chunks)))
    for rank, (score, j) in enumerate(zip(scores[0].tolist(), top[0].tolist()), start=1):
        c = chunks[j]
        click.echo(f"{rank}. [{score:.3f}] {c.id}\n   {' '.join(c.text.split())[:300]}")


cli.add_command(reproduce_command(
    "chatqa",
    "The small-scale experiments for ChatQA's claims (Tables 1, 2, 6, 7 at tiny scale, plus MiniLM and SmolLM2 "
    "on real weights): prints the expected time, resumes from the run cache, writes OUT/chatqa/ and OUT/REPORT.md.",
    "Tiny budgets, one seed, no real models: a smoke run in about 2 minutes (numbers mean nothing)."))
