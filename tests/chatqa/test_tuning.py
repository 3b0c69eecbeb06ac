"""Two-stage tuning on core's Trainer: the loss is the masked LM loss of the latest answer, an
interrupted stage resumes to the same weights, LoRA trains only adapters and is merged back, and
the whole thing runs on a local Hugging Face Llama folder (a tiny random one saved here)."""

import math

import pytest
import torch

from paperzoo.chatqa.blends import Sample
from paperzoo.chatqa.config import StageRecipe, TuningRecipe
from paperzoo.chatqa.generator import Generator
from paperzoo.chatqa.template import INSTRUCTION_SHORT_SPAN
from paperzoo.chatqa.tuning import answer_loss, pad_examples, tune_stage, two_stage

from tests.chatqa.test_generator import tiny_llama, word_tokenizer

FACTS = [("zorb", "red"), ("zorb", "7"), ("blip", "red"), ("blip", "7")]


def samples(step: int, n: int) -> list[Sample]:
    """A toy stage-2 source: the answer is the context's value ("the zorb is red ." -> "red")."""
    out = []
    for i in range(n):
        name, value = FACTS[(step * n + i) % len(FACTS)]
        msgs = ({"role": "user", "content": f"what colour is the {name} ?"}, {"role": "assistant", "content": value})
        out.append(Sample(msgs, (f"the {name} is {value} .",), INSTRUCTION_SHORT_SPAN, "squad1.1", "single_turn"))
    return out


def sft_samples(step: int, n: int) -> list[Sample]:
    return [Sample(({"role": "user", "content": "how old is it ?"}, {"role": "assistant", "content": "7 years"}), (),
                   "", "sft", "sft") for _ in range(n)]


def _loss(gen: Generator) -> float:
    rows = [gen.example(s.messages, s.context, s.instruction) for s in samples(0, 4)]
    with torch.no_grad():
        return answer_loss(gen.model.eval(), pad_examples(rows, gen.pad_id))["loss"].item()


STAGE = StageRecipe(lr=3e-3, min_lr=3e-4, steps=6, batch_size=4, warmup=1)


def hf_folder(tmp_path):
    """A tiny random LlamaForCausalLM and a WordLevel tokenizer saved as a plain HF folder (no paperzoo.json)."""
    tok = word_tokenizer(extra=["blip"])
    model = tiny_llama(len(tok), seed=5)
    model.save_pretrained(tmp_path / "llama")
    tok.save_pretrained(tmp_path / "llama")
    return tmp_path / "llama"


def test_loss_is_the_mean_nll_of_the_latest_answer_tokens():
    tok = word_tokenizer(extra=["blip"])
    gen = Generator(tiny_llama(len(tok)), tok, "world")
    rows = [gen.example(s.messages, s.context, s.instruction) for s in samples(0, 2)]
    batch = pad_examples(rows, gen.pad_id)
    with torch.no_grad():
        loss = answer_loss(gen.model, batch)["loss"]
    # written out: -log p of every supervised token given its prefix, averaged over those tokens
    total, count = 0.0, 0
    for ids, mask in rows:
        with torch.no_grad():
            logp = torch.log_softmax(gen.model(input_ids=torch.tensor([ids])).logits[0].double(), -1)
        for t in range(1, len(ids)):
            if mask[t]:
                total -= logp[t - 1, ids[t]].item()
                count += 1
    assert count == 4  # "red" + EOS, twice
    assert math.isclose(loss.item(), total / count, rel_tol=1e-5)


def test_two_stages_on_a_local_hf_llama_folder_and_resume(tmp_path):
    """Stage 1 then stage 2 on a plain HF folder; the stage-2 loss falls; each stage's model folder
    loads back; an interrupted stage resumed from its checkpoint ends with identical weights."""
    rec = TuningRecipe(stage1=StageRecipe(lr=3e-3, min_lr=3e-4, steps=3, batch_size=4), stage2=STAGE)
    gen = Generator.from_pretrained(hf_folder(tmp_path))
    tuned, hist = two_stage(gen, rec, tmp_path / "run", stage1=sft_samples, stage2=samples, device="cpu", progress=False)
    assert (tmp_path / "run/stage1/model/config.json").is_file() and not (tmp_path / "run/stage1/checkpoint").exists()
    back = Generator.from_pretrained(tmp_path / "run/stage2/model")
    assert back.kind == "hf"
    for a, b in zip(tuned.model.state_dict().values(), back.model.state_dict().values()):
        assert torch.equal(a, b)
    # resume: 6 steps in one go == interrupted after step 3 (checkpoint), then resumed to 6
    full = Generator.from_pretrained(tmp_path / "run/stage1/model")
    tune_stage(full, STAGE, samples, tmp_path / "full", device="cpu", progress=False)

    class Interrupt(Exception):
        pass

    def interrupted(step, n):
        if step == 3:
            raise Interrupt
        return samples(step, n)

    part = Generator.from_pretrained(tmp_path / "run/stage1/model")
    with pytest.raises(Interrupt):
        tune_stage(part, STAGE, interrupted, tmp_path / "part", device="cpu", checkpoint_every=3, progress=False)
    part = Generator.from_pretrained(tmp_path / "run/stage1/model")  # a fresh process
    tune_stage(part, STAGE, samples, tmp_path / "part", device="cpu", resume=True, progress=False)
    for a, b in zip(full.model.state_dict().values(), part.model.state_dict().values()):
        assert torch.allclose(a, b, atol=1e-6)
    for a, b in zip(full.model.state_dict().values(), back.model.state_dict().values()):
        assert torch.equal(a, b)  # and the same as two_stage's stage 2 (deterministic from the step)
    stage1 = Generator.from_pretrained(tmp_path / "run/stage1/model").model.state_dict()
    assert not torch.equal(stage1["model.layers.0.mlp.up_proj.weight"], back.model.state_dict()["model.layers.0.mlp.up_proj.weight"])
    s1 = Generator.from_pretrained(tmp_path / "run/stage1/model")
    assert _loss(back) < _loss(s1) - 0.1  # stage 2 learned its data (measured: 4.05 -> 3.27 nats)


def test_resume_skips_a_finished_stage(tmp_path):
    rec = TuningRecipe(stage1=StageRecipe(lr=1e-3, min_lr=1e-4, steps=2, batch_size=2), stage2=STAGE)
    gen = Generator.from_pretrained(hf_folder(tmp_path))
    two_stage(gen, rec, tmp_path / "run", stage1=sft_samples, stage2=None, device="cpu", progress=False)
    assert not (tmp_path / "run/stage2").exists()  # the "stage-1 only" run
    stamp = (tmp_path / "run/stage1/model/model.safetensors").stat().st_mtime_ns
    again, hist = two_stage(Generator.from_pretrained(hf_folder(tmp_path)), rec, tmp_path / "run",
                            stage1=sft_samples, stage2=None, device="cpu", resume=True, progress=False)
    assert hist == {"stage1": []} and (tmp_path / "run/stage1/model/model.safetensors").stat().st_mtime_ns == stamp


def test_lora_trains_adapters_only_and_merges_back(tmp_path):
    """`lora_rank > 0` (a deviation: the paper fine-tunes fully): the embeddings and norms stay
    exactly as they were, the projections change, and the result is a plain LlamaForCausalLM."""
    pytest.importorskip("peft")
    from transformers import LlamaForCausalLM

    gen = Generator.from_pretrained(hf_folder(tmp_path))
    before = {k: v.clone() for k, v in gen.model.state_dict().items()}
    tune_stage(gen, STAGE, samples, tmp_path / "lora", device="cpu", lora_rank=4, lora_alpha=8, progress=False)
    assert type(gen.model) is LlamaForCausalLM
    after = gen.model.state_dict()
    assert set(after) == set(before)
    assert torch.equal(after["model.embed_tokens.weight"], before["model.embed_tokens.weight"])
    assert torch.equal(after["model.norm.weight"], before["model.norm.weight"])
    assert not torch.equal(after["model.layers.0.self_attn.q_proj.weight"], before["model.layers.0.self_attn.q_proj.weight"])
    gen.save_pretrained(tmp_path / "merged")
    assert Generator.from_pretrained(tmp_path / "merged").kind == "hf"


def test_pretraining_texts_are_training_documents_with_the_loss_on_every_token():
    """The tiny decoder's foundation stage (card §5): world documents of training entities only."""
    from paperzoo.chatqa import blends
    from paperzoo.world.conversations import split_entities

    texts = blends.pretraining(0)(3, 4)
    assert texts == blends.pretraining(0)(3, 4) and texts != blends.pretraining(0)(4, 4)
    held = {e.name for e in split_entities("test")} | {e.name for e in split_entities("valid")}
    assert not {w.strip(".,") for t in texts for w in t.split()} & held
    tok = word_tokenizer()
    gen = Generator(tiny_llama(len(tok)), tok, "world")
    ids, mask = gen.text_example("what colour is the zorb ?")
    assert ids == tok("what colour is the zorb ?")["input_ids"] + [tok.eos_token_id] and all(mask)


@pytest.mark.slow
def test_tuning_runs_unchanged_under_accelerate_launch(tmp_path):
    """`accelerate launch --num_processes 2 --cpu -m paperzoo.chatqa.tuning` on a local HF Llama
    folder: two processes, each with half of every global batch, write one tuned model folder."""
    import os
    import shutil
    import subprocess
    import sys

    launcher = shutil.which("accelerate", path=os.path.dirname(sys.executable))
    folder = hf_folder(tmp_path)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    out = subprocess.run([launcher, "launch", "--num_processes", "2", "--num_machines", "1", "--mixed_precision", "no",
                          "--dynamo_backend", "no", "--cpu", "-m", "paperzoo.chatqa.tuning", "--model", str(folder),
                          "--out", str(tmp_path / "run"), "--steps1", "2", "--steps2", "2", "--batch-size", "4"],
                         capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert str(tmp_path / "run/stage2/model") in out.stdout
    tuned = Generator.from_pretrained(tmp_path / "run/stage2/model")
    base = Generator.from_pretrained(folder)
    assert not torch.equal(tuned.model.model.layers[0].mlp.up_proj.weight, base.model.model.layers[0].mlp.up_proj.weight)


def _answer_nll(gen: Generator, ev) -> float:
    """The mean NLL (nats) of the gold answer tokens (+EOS) of `ev` given their prompts."""
    rows = [gen.example(s.messages, s.context, s.instruction) for s in ev]
    with torch.no_grad():
        return answer_loss(gen.model.eval(), pad_examples(rows, gen.pad_id))["loss"].item()


def _question_blind_ce(gen: Generator, train, ev) -> float:
    """The cross-entropy of `ev`'s answer tokens under the best question-blind predictor fitted on
    `train`: for each position in the answer (1st token, 2nd, ..., EOS included), the add-one
    unigram of the training answers' tokens at that position."""
    from collections import Counter, defaultdict

    def answer_ids(s):
        ids, mask = gen.example(s.messages, s.context, s.instruction)
        return [i for i, m in zip(ids, mask) if m]

    counts: dict[int, Counter] = defaultdict(Counter)
    for s in train:
        for k, i in enumerate(answer_ids(s)):
            counts[k][i] += 1
    vocab, total, n = len(gen.tokenizer), 0.0, 0
    for s in ev:
        for k, i in enumerate(answer_ids(s)):
            c = counts[k]
            total -= math.log((c[i] + 1) / (sum(c.values()) + vocab))
            n += 1
    return total / n


@pytest.mark.slow
def test_stage2_tuning_learns_held_out_answers_beyond_a_question_blind_prior(tmp_path):
    """tiny-ci (0.6M parameters) tuned for 120 stage-2 steps (batch 16, AdamW 3e-3, the paper's
    latest-answer loss), scored on 121 held-out follow-up turns (test-split entities, gold context)
    by the NLL of their gold answers (+EOS). Measured (seed 0): untrained 6.58 nats (~ln 645, the
    vocabulary); the best question-blind predictor (a per-position unigram of 1500 training
    answers) 3.12; trained 2.93. A model whose loss misses the answers stays near 6.6; one that
    learned only the answers' overall word frequencies is at ~3.5 (the plain unigram, measured 3.55).
    NOT asserted, because it does not hold at CI's budget: token F1, 0.0 untrained and 0.0 trained
    here (greedy answers are one prior word for every question); tiny-ci reaches only 2-8 F1 after
    300-1200 steps. Reading answers out of the context takes far longer than CI allows."""
    from paperzoo.chatqa import blends
    from paperzoo.chatqa.generator import new_generator

    gen = new_generator("tiny-ci", seed=0)
    ev = blends.follow_up_eval("test", 0, 40)
    train = [s for s in blends.stage2(0)(10**5, 1500) if s.group in ("conversational", "single_turn")]
    blind = _question_blind_ce(gen, train, ev)
    untrained = _answer_nll(gen, ev)
    tune_stage(gen, StageRecipe(lr=3e-3, min_lr=3e-4, steps=120, batch_size=16, warmup=10), blends.stage2(0),
               tmp_path / "s2", device="cpu", progress=False)
    trained = _answer_nll(gen, ev)
    assert untrained > blind + 3.0  # the untrained model is far worse than the prior
    assert trained < untrained - 3.0
    assert trained < blind  # better than any question-blind answer distribution
