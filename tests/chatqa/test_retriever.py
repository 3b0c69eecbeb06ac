"""The dual encoder (§4): pooling and shapes, left truncation of queries, brute-force search
against a sorted full score list, checkpoints (ours and any local HF encoder folder), recall@k,
the 4-gram gold-chunk rule, JSONL conversations; and (slow) the two-stage training learns."""

import json

import pytest
import torch

from paperzoo.chatqa.config import RetrieverConfig, retriever_config
from paperzoo.chatqa.retrieval_train import (
    conversation_pairs, gold_chunk_index, ngram_recall, recall_at_k, turn_queries,
)
from paperzoo.chatqa.retriever import DualEncoder, encoder_inputs, format_query, pool, search
from paperzoo.core.errors import CheckpointError, ConfigError, InputError
from paperzoo.world.text import word_tokenizer

WORDS = "user agent what is the colour of it its a an capital city ? . , : blue red mira tovo how big".split()


def _tok():
    return word_tokenizer(WORDS, split="punctuation", model_max_length=64)


def _tiny(**kw) -> DualEncoder:
    cfg = RetrieverConfig(hidden_size=32, layers=1, heads=2, intermediate_size=64, query_max_length=12,
                          context_max_length=16, **kw)
    return DualEncoder.build(cfg, tokenizer=_tok(), seed=0)


def test_query_format_is_the_dragon_multiturn_one():
    q = format_query([("what is mira ?", "a city ."), ("how big is it ?", "big .")], "what colour is it ?")
    assert q == "user: what is mira ?\nagent: a city .\nuser: how big is it ?\nagent: big .\nuser: what colour is it ?"
    assert format_query([], "what is tovo ?") == "user: what is tovo ?"


def test_left_truncation_keeps_the_current_question():
    tok = _tok()
    long_query = format_query([("what is the capital of mira ?", "tovo .")] * 5, "how big is it ?")
    batch = encoder_inputs(tok, [long_query, "what is it ?"], max_length=9, truncate="left")
    ids = batch["input_ids"][0].tolist()
    assert len(ids) == 9 and ids[0] == tok.bos_token_id and ids[-1] == tok.eos_token_id
    assert tok.decode(ids[1:-1]) == "user : how big is it ?"  # the end of the query survives
    right = encoder_inputs(tok, [long_query], max_length=9, truncate="right")["input_ids"][0].tolist()
    assert tok.decode(right[1:-1]) == "user : what is the capital of"
    assert batch["attention_mask"][1].tolist() == [1] * 6 + [0] * 3  # <bos> what is it ? <eos>, padded


def test_pooling_cls_mean_and_normalisation():
    hidden = torch.randn(2, 4, 3)
    mask = torch.tensor([[1, 1, 0, 0], [1, 1, 1, 1]])
    assert torch.equal(pool(hidden, mask, "cls", False), hidden[:, 0])
    mean = pool(hidden, mask, "mean", False)
    assert torch.allclose(mean[0], hidden[0, :2].mean(0)) and torch.allclose(mean[1], hidden[1].mean(0))
    unit = pool(hidden, mask, "mean", True)
    assert torch.allclose(unit.norm(dim=-1), torch.ones(2)) and torch.allclose(unit[0], mean[0] / mean[0].norm())


def test_encoders_are_separate_and_shapes():
    model = _tiny()
    assert model.query_encoder is not model.context_encoder
    assert all(p.data_ptr() != q.data_ptr() for p, q in zip(model.query_encoder.parameters(), model.context_encoder.parameters()))
    q = model.encode_queries(["what is mira ?", "how big is it ?", "what is the colour of tovo ?"], batch_size=2)
    c = model.encode_contexts(["mira is a city .", "tovo is blue ."])
    assert q.shape == (3, 32) and c.shape == (2, 32) and not q.requires_grad
    # batching does not change an embedding (eval mode, padding masked)
    assert torch.allclose(q[:1], model.encode_queries(["what is mira ?"]), atol=1e-5)
    # the same text embeds differently on the two sides: two encoders, not one
    assert not torch.allclose(model.encode_queries(["mira is a city ."]), c[:1])
    with pytest.raises(InputError):
        model.encode_queries("what is mira ?")


def test_search_equals_the_sorted_full_score_list():
    g = torch.Generator().manual_seed(0)
    q, c = torch.randn(7, 5, generator=g), torch.randn(50, 5, generator=g)
    scores, idx = search(q, c, k=4, block=3)
    for i in range(7):
        full = [float(q[i] @ c[j]) for j in range(50)]  # the slow reference: every score, sorted
        order = sorted(range(50), key=lambda j: -full[j])[:4]
        assert idx[i].tolist() == order
        assert torch.allclose(scores[i], torch.tensor([full[j] for j in order]), atol=1e-5)
    assert search(q, c, k=100)[1].shape == (7, 50)
    with pytest.raises(InputError):
        search(q, c[:, :4], k=1)


def test_save_load_round_trip_and_clear_errors(tmp_path):
    model = _tiny()
    texts = ["what is the colour of mira ?", "tovo is a city ."]
    folder = model.save_pretrained(tmp_path / "r")
    assert (folder / "query_encoder" / "config.json").is_file() and (folder / "context_encoder" / "config.json").is_file()
    again = DualEncoder.from_pretrained(folder)
    assert again.config.pooling == "cls" and again.config.query_max_length == 12
    assert torch.allclose(model.encode_queries(texts), again.encode_queries(texts), atol=1e-6)
    assert torch.allclose(model.encode_contexts(texts), again.encode_contexts(texts), atol=1e-6)
    with pytest.raises(CheckpointError, match="does not exist"):
        DualEncoder.from_pretrained(tmp_path / "missing")
    (folder / "retriever.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="corrupt"):
        DualEncoder.from_pretrained(folder)
    model.save_pretrained(tmp_path / "r2")
    (tmp_path / "r2" / "context_encoder" / "config.json").unlink()
    with pytest.raises(CheckpointError, match="config.json"):
        DualEncoder.from_pretrained(tmp_path / "r2")
    with pytest.raises(ConfigError):
        RetrieverConfig(pooling="max")
    with pytest.raises(ConfigError):
        retriever_config("dragon-nano")


def _hf_bert_folder(path, sentence_transformers: bool):
    """A TINY random BertModel + WordPiece tokenizer saved as a Hugging Face folder (and, when
    asked, with MiniLM's sentence-transformers modules: mean pooling, then Normalize)."""
    from transformers import BertConfig, BertModel, BertTokenizerFast

    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + WORDS
    path.mkdir(parents=True)
    (path / "vocab.txt").write_text("\n".join(vocab) + "\n")
    BertTokenizerFast(vocab_file=str(path / "vocab.txt"), do_lower_case=True).save_pretrained(path)
    torch.manual_seed(1)
    BertModel(BertConfig(vocab_size=len(vocab), hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                         intermediate_size=32, max_position_embeddings=64)).save_pretrained(path)
    if sentence_transformers:
        (path / "modules.json").write_text(json.dumps([
            {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
            {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
            {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"}]))
        (path / "1_Pooling").mkdir()
        (path / "1_Pooling" / "config.json").write_text(json.dumps({"word_embedding_dimension": 16, "pooling_mode_mean_tokens": True}))
    return path


def test_local_hf_folders_with_their_native_pooling(tmp_path):
    """The real-scale path on tiny random checkpoints: a Dragon-style pair of BERT folders
    (CLS, raw dot product) and a MiniLM-style sentence-transformers folder (mean, normalised)."""
    from transformers import AutoModel

    q_dir = _hf_bert_folder(tmp_path / "q", False)
    c_dir = _hf_bert_folder(tmp_path / "c", False)
    dragon = DualEncoder.from_folders(q_dir, c_dir)
    assert (dragon.config.pooling, dragon.config.normalize) == ("cls", False)
    ids = encoder_inputs(dragon.query_tokenizer, ["what is mira ?"], 16, "left")
    assert ids["input_ids"][0, 0] == dragon.query_tokenizer.cls_token_id and ids["input_ids"][0, -1] == dragon.query_tokenizer.sep_token_id
    ref = AutoModel.from_pretrained(q_dir).eval()
    with torch.no_grad():  # CLS of the plain model = our query vector
        want = ref(**dragon.query_tokenizer(["what is mira ?"], return_tensors="pt")).last_hidden_state[:, 0]
    assert torch.allclose(dragon.encode_queries(["what is mira ?"]), want, atol=1e-5)

    st_dir = _hf_bert_folder(tmp_path / "st", True)
    minilm_like = DualEncoder.from_folders(st_dir, st_dir)
    assert (minilm_like.config.pooling, minilm_like.config.normalize) == ("mean", True)
    assert minilm_like.query_encoder is not minilm_like.context_encoder  # two copies, tuned apart
    v = minilm_like.encode_contexts(["mira is a city .", "tovo"])
    assert torch.allclose(v.norm(dim=-1), torch.ones(2), atol=1e-5)
    saved = DualEncoder.from_pretrained(minilm_like.save_pretrained(tmp_path / "saved"))
    assert torch.allclose(saved.encode_contexts(["mira is a city ."]), v[:1], atol=1e-5)
    with pytest.raises(CheckpointError, match="no config.json"):
        DualEncoder.from_folders(tmp_path, c_dir)
    with pytest.raises(CheckpointError, match="not a local folder|local encoder folder"):
        DualEncoder.build("dragon-plus")  # nothing is downloaded


def test_recall_at_k_counts_hits():
    ranked = [["a", "b", "c"], ["c", "a", "b"], ["b", "c", "a"], ["x", "y", "z"]]
    assert recall_at_k(ranked, ["a", "a", "a", "a"], ks=(1, 2, 3)) == {1: 0.25, 2: 0.5, 3: 0.75}
    with pytest.raises(InputError):
        recall_at_k(ranked, ["a"])


def test_four_gram_recall_and_the_gold_chunk_rule():
    answer = "the capital of mira is tovo ."
    # answer 4-grams: (the capital of mira) (capital of mira is) (of mira is tovo) (mira is tovo .)
    assert ngram_recall(answer, "we know the capital of mira is tovo .") == 1.0
    assert ngram_recall(answer, "the capital of mira is red .") == 0.5  # the first two only
    assert ngram_recall(answer, "tovo is blue") == 0.0
    assert ngram_recall("Tovo.", "mira: tovo . yes") == 1.0  # shorter than 4 words: one 2-gram, case-folded
    chunks = ["tovo is blue .", "the capital of mira is red .", "people say the capital of mira is tovo ."]
    assert gold_chunk_index(answer, chunks) == 2


def test_turn_queries_modes():
    from types import SimpleNamespace as T

    d = T(turns=[T(question="what is mira ?", rewrite="what is mira ?", answer="a city ."),
                 T(question="how big is it ?", rewrite="how big is mira ?", answer="big .")])
    assert turn_queries(d, "history")[1] == "user: what is mira ?\nagent: a city .\nuser: how big is it ?"
    assert turn_queries(d, "rewrite") == ["what is mira ?", "how big is mira ?"]
    assert turn_queries(d, "question")[1] == "how big is it ?"


def test_jsonl_conversations_become_pairs_and_bad_lines_are_named(tmp_path):
    good = {"messages": [{"role": "user", "content": "what is mira ?"},
                         {"role": "assistant", "content": "mira is a blue city ."},
                         {"role": "user", "content": "how big is it ?"},
                         {"role": "assistant", "content": "it is a big city of tovo"}],
            "chunks": ["tovo is red . it is a big city of tovo .", "mira is a blue city ."]}
    path = tmp_path / "conv.jsonl"
    path.write_text(json.dumps(good) + "\n\n" + json.dumps(good) + "\n")
    pairs, table = conversation_pairs(path)
    assert pairs[0] == ("user: what is mira ?", "1/1")
    assert pairs[1] == ("user: what is mira ?\nagent: mira is a blue city .\nuser: how big is it ?", "1/0")
    assert len(pairs) == 4 and table["3/1"] == ("3", "mira is a blue city .")
    path.write_text(json.dumps(good) + "\n" + '{"messages": [], "chunks": "x"}\n')
    with pytest.raises(InputError, match=r"conv.jsonl:2"):
        conversation_pairs(path)
    path.write_text("not json\n")
    with pytest.raises(InputError, match=r"conv.jsonl:1"):
        conversation_pairs(path)


def test_shared_embeddings_stay_tied_after_a_round_trip(tmp_path):
    model = _tiny(share_embeddings=True)
    assert model.context_encoder.embeddings.word_embeddings is model.query_encoder.embeddings.word_embeddings
    again = DualEncoder.from_pretrained(model.save_pretrained(tmp_path / "r"))
    assert again.context_encoder.embeddings.word_embeddings is again.query_encoder.embeddings.word_embeddings
    assert torch.allclose(model.encode_contexts(["tovo is blue ."]), again.encode_contexts(["tovo is blue ."]), atol=1e-6)


PAIRS = [("what is mira ?", "e1/0"), ("what colour is mira ?", "e1/1"), ("what is tovo ?", "e2/0"),
         ("what colour is tovo ?", "e2/1")]
TABLE = {"e1/0": ("e1", "mira is a city ."), "e1/1": ("e1", "mira is blue ."),
         "e2/0": ("e2", "tovo is a city ."), "e2/1": ("e2", "tovo is red .")}


def test_training_resumes_to_the_same_weights(tmp_path):
    """A run interrupted after step 4 of 6 (checkpoints every 2), then resumed, ends with the
    weights of an uninterrupted one; the final folder is the retriever layout."""
    from dataclasses import replace

    from paperzoo.chatqa.config import retrieval_recipe
    from paperzoo.chatqa.retrieval_train import train_retriever

    recipe = replace(retrieval_recipe("tiny-multi"), steps=6, batch_size=2, warmup=1)
    straight = _tiny(share_embeddings=True)
    train_retriever(straight, PAIRS, TABLE, recipe, tmp_path / "a", seed=3)
    import paperzoo.chatqa.retrieval_train as rt

    calls = {"n": 0}
    real = rt.candidate_batch

    def interrupted(*args, **kwargs):  # the run dies while building its 5th batch
        calls["n"] += 1
        if calls["n"] == 5:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    resumed = _tiny(share_embeddings=True)
    rt.candidate_batch = interrupted
    try:
        with pytest.raises(KeyboardInterrupt):
            train_retriever(resumed, PAIRS, TABLE, recipe, tmp_path / "b", seed=3, checkpoint_every=2)
    finally:
        rt.candidate_batch = real
    resumed = _tiny(share_embeddings=True)
    train_retriever(resumed, PAIRS, TABLE, recipe, tmp_path / "b", seed=3, checkpoint_every=2, resume=True)
    for (name, p), q in zip(straight.named_parameters(), resumed.parameters()):
        assert torch.allclose(p, q, atol=1e-6), name
    loaded = DualEncoder.from_pretrained(tmp_path / "b" / "model")
    assert torch.allclose(loaded.encode_queries(["what is mira ?"]), resumed.encode_queries(["what is mira ?"]), atol=1e-6)


@pytest.mark.slow
def test_multi_turn_fine_tuning_beats_history_as_the_query():
    """Table 1's claim at world scale: after single-turn pretraining (gold rewrite -> gold chunk)
    and multi-turn fine-tuning (history + question -> gold chunk), recall@1 on the follow-up
    turns of held-out test dialogues (100 dialogues, 301 turns, 104 test chunks) beats (a) the
    untrained encoder and (b) the single-turn retriever given the history as its query.

    Measured (seed 0, this config; seed 1 in brackets): untrained 0.020 (0.014), single-turn +
    history 0.153 (0.136), fine-tuned 0.279 (0.276). ~30 s on one thread of a loaded 2-core
    machine (load 5). A model whose stage B does nothing stays at the single-turn number and
    fails (b); an untrained or collapsed one (0.02; chance 1/104) fails (a).

    Why the tiny config pools by the normalised mean over one shared word-embedding table
    (measured, seed 0, 500 training dialogues, 150 stage-A steps, recall@1 of seen entities'
    rewrites): Dragon's CLS pooling from scratch 0.01-0.03 (lr 3e-4 / 1e-3; the loss stays at
    log 32), mean pooling 0.81. Separate embedding tables leave held-out names as unrelated
    random vectors on the two sides: held-out rewrites then reach only 0.24 (the attribute
    alone), against 0.88 with the shared table."""
    from dataclasses import replace

    from paperzoo.chatqa.config import retrieval_recipe
    from paperzoo.chatqa.retrieval_train import (
        chunk_table, evaluate_retrieval, follow_up_queries, multi_turn_pairs, single_turn_pairs, train_retriever,
    )
    from paperzoo.world import conversations as C

    train = C.dialogues("train", 0, 600)
    chunks, test_chunks = chunk_table(C.corpus("train", 0)), chunk_table(C.corpus("test", 0))
    queries, gold = follow_up_queries(C.dialogues("test", 0, 100), "history")
    model = DualEncoder.build(replace(retriever_config("tiny"), context_max_length=48), seed=0)
    recall = lambda: evaluate_retrieval(model, queries, gold, test_chunks, ks=(1,))[1]  # noqa: E731
    untrained = recall()
    import tempfile

    with tempfile.TemporaryDirectory() as out:
        train_retriever(model, single_turn_pairs(train), chunks, replace(retrieval_recipe("tiny-single"), steps=100),
                        f"{out}/a", seed=0)
        single = recall()
        train_retriever(model, multi_turn_pairs(train), chunks,
                        replace(retrieval_recipe("tiny-multi"), steps=150, batch_size=16, per_query=1), f"{out}/b", seed=0)
    tuned = recall()
    assert tuned > untrained + 0.15, (untrained, single, tuned)
    assert tuned > single + 0.06, (untrained, single, tuned)


@pytest.mark.slow
def test_minilm_retrieves_world_chunks_for_standalone_questions_zero_shot(shared_cache):
    """all-MiniLM-L6-v2 as both encoders (its native mean pooling, normalised), no training:
    the gold standalone rewrites of 301 held-out follow-up turns find their gold chunk among the
    104 test chunks. Measured: recall@1 0.904 for rewrites (chance 0.010), 0.262 for the bare
    pronoun question, 0.299 for the history as the query (Table 1's gap between "+ Rewrite" and
    the history at world scale). A broken pooling or a shuffled tokenizer falls far below 0.6."""
    from paperzoo.chatqa.retrieval_train import chunk_table, evaluate_retrieval, follow_up_queries
    from paperzoo.world import conversations as C

    model = DualEncoder.build("minilm")
    assert (model.config.pooling, model.config.normalize) == ("mean", True)
    test = C.dialogues("test", 0, 100)
    table = chunk_table(C.corpus("test", 0))
    vecs = model.encode_contexts([table[i][1] for i in table])
    rewrite = evaluate_retrieval(model, *follow_up_queries(test, "rewrite"), table, ks=(1, 5), context_vecs=vecs)
    question = evaluate_retrieval(model, *follow_up_queries(test, "question"), table, ks=(1,), context_vecs=vecs)
    assert rewrite[1] > 0.8 and rewrite[5] > 0.95, rewrite
    assert rewrite[1] > question[1] + 0.4, (rewrite, question)
