"""The dual-encoder retriever of ChatQA §4 (Fig. 2): a query encoder and a context encoder.

ChatQA fine-tunes Dragon (Lin et al. 2023), a dense retriever with SEPARATE query and context
encoders, both BERT-base, each pooled at [CLS]; relevance is the dot product

    s(q, c) = E_Q(q) · E_C(c)                                    (Dragon; §4, Fig. 2)

The conversational query is "the concatenation of the dialogue history and the current query"
(§4). Its exact text follows the released nvidia/dragon-multiturn model card (the v1 paper does
not spell it out): one line per turn, "role: content", roles "user" and "agent",

    user: {question 1}\\nagent: {answer 1}\\nuser: ...\\nuser: {current question}

Queries longer than the encoder's window are cut from the LEFT (the oldest turns go, the
current question stays; card §6, inferred); contexts are cut from the right.

Three sizes share this class:
    "tiny"      a 2-layer, d = 128 BERT built from a `BertConfig` on the world's word-level
                tokenizer (card §5), trained from scratch (retrieval_train.py);
    "minilm"    all-MiniLM-L6-v2 (the real-weights analogue of Dragon) from the local folder
                `paperzoo.core.pretrained.minilm()`; its native pooling is the normalised mean
                (its sentence-transformers `1_Pooling` / `2_Normalize` modules), and both
                encoders start from the same weights and are then tuned separately;
    Dragon      `facebook/dragon-plus-{query,context}-encoder` or
                `nvidia/dragon-multiturn-{query,context}-encoder`, read from local folders.
Any local Hugging Face encoder folder works (`DualEncoder.from_folders`). Search is brute force
(`search`); faiss is optional and not needed at this scale.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Sequence

import torch
from torch import Tensor, nn

from paperzoo.chatqa.config import RetrieverConfig, retriever_config
from paperzoo.core.atomic import atomic_dir
from paperzoo.core.checkpoint import config_from_dict, config_to_dict
from paperzoo.core.errors import CheckpointError, ConfigError, InputError

QUERY_DIR = "query_encoder"
CONTEXT_DIR = "context_encoder"
RETRIEVER_FILE = "retriever.json"
ROLES = ("user", "agent")  # the dragon-multiturn card's role names


# ---- the conversational query (§4) -------------------------------------------------------------
def format_query(history: Sequence[tuple[str, str]], question: str) -> str:
    """The multi-turn query: earlier (question, answer) turns, then the current question.

    >>> format_query([("what is the capital of x ?", "it is y .")], "how big is it ?")
    'user: what is the capital of x ?\\nagent: it is y .\\nuser: how big is it ?'
    """
    lines = []
    for q, a in history:
        lines += [f"{ROLES[0]}: {q}", f"{ROLES[1]}: {a}"]
    lines.append(f"{ROLES[0]}: {question}")
    return "\n".join(lines)


def resolve_folder(name_or_path: str) -> Path:
    """A local encoder folder for a config's encoder field: a local Hugging Face folder, or a
    real model's name ("minilm" = "all-minilm-l6-v2"); anything else is one CheckpointError
    (nothing is downloaded: a Dragon id must be a local folder)."""
    from paperzoo.core import pretrained

    if name_or_path == "minilm":
        name_or_path = pretrained.MINILM
    try:
        return pretrained.model_folder(name_or_path)
    except CheckpointError as err:
        raise CheckpointError(f"retriever encoder {name_or_path!r}: {err}; pass a local encoder folder "
                              "(nothing is downloaded at run time)") from None


def native_pooling(folder: Path) -> tuple[str, bool]:
    """(pooling, normalize) a folder was trained with: a sentence-transformers folder declares
    them (modules.json: MiniLM is mean, normalised); a plain BERT folder (Dragon) is CLS, raw."""
    from paperzoo.core import pretrained

    if not (Path(folder) / "modules.json").is_file():
        return "cls", False
    mode = pretrained.pooling(folder)
    if mode not in ("cls", "mean"):
        raise CheckpointError(f"encoder folder {folder} pools by {mode!r}; the retriever supports cls and mean")
    return mode, pretrained.normalizes(folder)


# ---- tokenisation with left truncation ------------------------------------------------------------
def encoder_inputs(tokenizer, texts: Sequence[str], max_length: int, truncate: str) -> dict[str, Tensor]:
    """Token ids for an encoder: [CLS] body [SEP] (the world tokenizer's <bos>/<eos> where it has
    no CLS/SEP), right-padded. `truncate="left"` keeps the END of the body (the current turn of a
    query), "right" keeps its start. Returns {"input_ids": (B, T), "attention_mask": (B, T)}."""
    if isinstance(texts, str) or len(texts) == 0:
        raise InputError("encoder_inputs: expected a non-empty list of texts")
    cls = tokenizer.cls_token_id if tokenizer.cls_token_id is not None else tokenizer.bos_token_id
    sep = tokenizer.sep_token_id if tokenizer.sep_token_id is not None else tokenizer.eos_token_id
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    head = [cls] if cls is not None else []
    tail = [sep] if sep is not None else []
    room = max_length - len(head) - len(tail)
    bodies = tokenizer(list(texts), add_special_tokens=False, verbose=False)["input_ids"]  # we truncate below
    rows = [head + (list(b)[-room:] if truncate == "left" else list(b)[:room]) + tail for b in bodies]
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), pad, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, r in enumerate(rows):
        ids[i, : len(r)] = torch.tensor(r, dtype=torch.long)
        mask[i, : len(r)] = 1
    return {"input_ids": ids, "attention_mask": mask}


def pool(hidden: Tensor, mask: Tensor, pooling: str, normalize: bool) -> Tensor:
    """hidden: (B, T, d), mask: (B, T) -> (B, d). "cls": the first token (Dragon); "mean": the
    mean over real tokens (sentence-transformers). `normalize`: unit length (cosine = dot)."""
    if pooling == "cls":
        out = hidden[:, 0]
    else:
        m = mask.unsqueeze(-1).to(hidden.dtype)
        out = (hidden * m).sum(1) / m.sum(1).clamp_min(1e-9)
    return nn.functional.normalize(out, dim=-1) if normalize else out


def search(query_vecs: Tensor, context_vecs: Tensor, k: int, block: int = 1024) -> tuple[Tensor, Tensor]:
    """Brute-force maximum inner product search: the top-k contexts of each query.

    query_vecs: (Q, d), context_vecs: (N, d) -> (scores (Q, k), indices (Q, k)), best first.
    Queries run `block` at a time so the (block, N) score matrix bounds the memory."""
    if query_vecs.ndim != 2 or context_vecs.ndim != 2 or query_vecs.shape[1] != context_vecs.shape[1]:
        raise InputError(f"search: expected (Q, d) and (N, d) vectors, got {tuple(query_vecs.shape)} and {tuple(context_vecs.shape)}")
    k = min(k, context_vecs.shape[0])
    scores, idx = [], []
    for start in range(0, query_vecs.shape[0], block):
        s = query_vecs[start: start + block] @ context_vecs.T  # s(q, c) = E_Q(q) · E_C(c)
        top = torch.topk(s, k, dim=1)
        scores.append(top.values)
        idx.append(top.indices)
    return torch.cat(scores), torch.cat(idx)


# ---- the model ------------------------------------------------------------------------------------
class DualEncoder(nn.Module):
    """Query encoder E_Q and context encoder E_C (two `transformers` encoders, each with its tokenizer).

    forward(query_batch, context_batch) -> (q (B, d), c (N, d)) with gradients (training);
    `encode_queries` / `encode_contexts` embed texts in batches under no_grad (inference).
    """

    def __init__(self, config: RetrieverConfig, query_model: nn.Module, context_model: nn.Module,
                 query_tokenizer, context_tokenizer):
        super().__init__()
        if config.pooling is None or config.normalize is None:
            raise ConfigError("DualEncoder: pooling and normalize must be resolved (use build or from_folders)")
        self.config = config
        self.query_encoder = query_model
        self.context_encoder = context_model
        self.query_tokenizer = query_tokenizer
        self.context_tokenizer = context_tokenizer

    # -- construction --
    @classmethod
    def build(cls, config: str | RetrieverConfig = "tiny", tokenizer=None, seed: int = 0) -> "DualEncoder":
        """A dual encoder of a named config: the tiny BERT, randomly initialised (seeded), on
        `tokenizer` (default: the world's word-level tokenizer); or the config's two local folders."""
        config = retriever_config(config)
        if config.query_encoder is not None:
            return cls.from_folders(resolve_folder(config.query_encoder), resolve_folder(config.context_encoder),
                                    config=config)
        from transformers import BertConfig, BertModel

        if tokenizer is None:
            from paperzoo.world.conversations import tokenizer as world_tokenizer

            tokenizer = world_tokenizer(extra_words=ROLES)  # the query format's role words
        config = dataclasses.replace(config, pooling=config.pooling or "cls",
                                     normalize=bool(config.normalize))
        bert = BertConfig(
            vocab_size=len(tokenizer), hidden_size=config.hidden_size, num_hidden_layers=config.layers,
            num_attention_heads=config.heads, intermediate_size=config.intermediate_size,
            hidden_dropout_prob=config.dropout, attention_probs_dropout_prob=config.dropout,
            max_position_embeddings=max(config.query_max_length, config.context_max_length),
            pad_token_id=tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0,
        )
        torch.manual_seed(seed)
        query = BertModel(bert, add_pooling_layer=False)
        context = BertModel(bert, add_pooling_layer=False)  # separate weights, as Dragon's
        model = cls(config, query, context, tokenizer, tokenizer)
        model.tie_embeddings()
        return model

    @classmethod
    def from_folders(cls, query_folder: str | Path, context_folder: str | Path,
                     config: RetrieverConfig | None = None) -> "DualEncoder":
        """Two local Hugging Face encoder folders (model + tokenizer each; they may be the same
        folder, e.g. MiniLM, and are then two independent copies). Pooling/normalize left None in
        `config` become the query folder's native ones."""
        config = config or RetrieverConfig(str(query_folder), str(context_folder))
        q_model, q_tok = _load_encoder(Path(query_folder))
        c_model, c_tok = _load_encoder(Path(context_folder))
        native = native_pooling(Path(query_folder))
        config = dataclasses.replace(
            config, query_encoder=str(query_folder), context_encoder=str(context_folder),
            pooling=config.pooling or native[0], normalize=native[1] if config.normalize is None else config.normalize)
        model = cls(config, q_model, c_model, q_tok, c_tok)
        model.tie_embeddings()
        return model

    def tie_embeddings(self) -> None:
        """With `config.share_embeddings`, the context encoder reads the query encoder's word
        embeddings (one table; re-tied after loading, since each folder stores its copy)."""
        if self.config.share_embeddings:
            if len(self.query_tokenizer) != len(self.context_tokenizer):
                raise ConfigError("share_embeddings needs one vocabulary for both encoders")
            self.context_encoder.embeddings.word_embeddings = self.query_encoder.embeddings.word_embeddings

    # -- checkpoints: two Hugging Face folders + retriever.json --
    def save_pretrained(self, path: str | Path) -> Path:
        """`path/query_encoder`, `path/context_encoder` (each a Hugging Face folder with its
        tokenizer, loadable by `AutoModel.from_pretrained`) and `path/retriever.json`; atomic."""
        from transformers.utils import logging as hf_logging

        path = Path(path)
        bars = hf_logging.is_progress_bar_enabled()
        hf_logging.disable_progress_bar()  # no per-shard bars for two small folders
        try:
            with atomic_dir(path) as tmp:
                for sub, model, tok in ((QUERY_DIR, self.query_encoder, self.query_tokenizer),
                                        (CONTEXT_DIR, self.context_encoder, self.context_tokenizer)):
                    model.save_pretrained(tmp / sub)
                    tok.save_pretrained(tmp / sub)
                saved = dataclasses.replace(self.config, query_encoder=QUERY_DIR, context_encoder=CONTEXT_DIR)
                payload = {"class": "DualEncoder", "config": config_to_dict(saved)}
                (tmp / RETRIEVER_FILE).write_text(json.dumps(payload, indent=2) + "\n")
        finally:
            if bars:
                hf_logging.enable_progress_bar()
        return path

    @classmethod
    def from_pretrained(cls, path: str | Path, map_location: str | torch.device = "cpu") -> "DualEncoder":
        path = Path(path)
        if not path.is_dir():
            raise CheckpointError(f"retriever folder {path} does not exist (expected {RETRIEVER_FILE}, {QUERY_DIR}/, {CONTEXT_DIR}/)")
        if not (path / RETRIEVER_FILE).is_file():
            raise CheckpointError(f"retriever folder {path} has no {RETRIEVER_FILE}")
        try:
            payload = json.loads((path / RETRIEVER_FILE).read_text())
            config = config_from_dict(RetrieverConfig, payload["config"])
        except (json.JSONDecodeError, KeyError, TypeError, ConfigError) as err:
            raise CheckpointError(f"retriever config {path / RETRIEVER_FILE} is corrupt ({err})") from None
        for sub in (QUERY_DIR, CONTEXT_DIR):
            if not (path / sub).is_dir():
                raise CheckpointError(f"retriever folder {path} has no {sub}/ folder")
        config = dataclasses.replace(config, query_encoder=str(path / QUERY_DIR), context_encoder=str(path / CONTEXT_DIR))
        model = cls.from_folders(path / QUERY_DIR, path / CONTEXT_DIR, config=config)
        return model.to(map_location)

    # -- encoding --
    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def query_inputs(self, texts: Sequence[str]) -> dict[str, Tensor]:
        """Query tokens, cut from the left so the current question always stays."""
        return encoder_inputs(self.query_tokenizer, texts, self.config.query_max_length, "left")

    def context_inputs(self, texts: Sequence[str]) -> dict[str, Tensor]:
        return encoder_inputs(self.context_tokenizer, texts, self.config.context_max_length, "right")

    def _embed(self, encoder: nn.Module, batch: dict[str, Tensor]) -> Tensor:
        batch = {k: v.to(self.device) for k, v in batch.items()}
        hidden = encoder(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).last_hidden_state
        return pool(hidden, batch["attention_mask"], self.config.pooling, self.config.normalize)

    def embed_queries(self, batch: dict[str, Tensor]) -> Tensor:
        """E_Q on tokenised queries: (B, d), with gradients."""
        return self._embed(self.query_encoder, batch)

    def embed_contexts(self, batch: dict[str, Tensor]) -> Tensor:
        """E_C on tokenised contexts: (N, d), with gradients."""
        return self._embed(self.context_encoder, batch)

    def forward(self, queries: dict[str, Tensor], contexts: dict[str, Tensor]) -> tuple[Tensor, Tensor]:
        return self.embed_queries(queries), self.embed_contexts(contexts)

    @torch.no_grad()
    def _encode(self, texts: Sequence[str], side: str, batch_size: int) -> Tensor:
        if isinstance(texts, str):
            raise InputError(f"encode_{side}s: expected a list of texts, got one string")
        if len(texts) == 0:
            return torch.zeros((0, self.dim))
        was = self.training
        self.eval()
        tokenise, embed = ((self.query_inputs, self.embed_queries) if side == "query"
                           else (self.context_inputs, self.embed_contexts))
        out = [embed(tokenise(texts[i: i + batch_size])).float().cpu() for i in range(0, len(texts), batch_size)]
        self.train(was)
        return torch.cat(out)

    def encode_queries(self, texts: Sequence[str], batch_size: int = 128) -> Tensor:
        """(len(texts), d) query vectors, on the CPU."""
        return self._encode(texts, "query", batch_size)

    def encode_contexts(self, texts: Sequence[str], batch_size: int = 128) -> Tensor:
        """(len(texts), d) context vectors, on the CPU."""
        return self._encode(texts, "context", batch_size)

    @property
    def dim(self) -> int:
        return int(self.query_encoder.config.hidden_size)

    def retrieve(self, queries: Sequence[str], contexts: Sequence[str], k: int) -> tuple[Tensor, Tensor]:
        """Top-k contexts of each query: (scores (Q, k), indices into `contexts` (Q, k))."""
        return search(self.encode_queries(queries), self.encode_contexts(contexts), k)


def _load_encoder(folder: Path):
    """(model, tokenizer) from a local Hugging Face encoder folder, or one CheckpointError."""
    from transformers import AutoModel, AutoTokenizer
    from transformers.utils import logging as hf_logging

    if not folder.is_dir():
        raise CheckpointError(f"encoder folder {folder} does not exist (expected a Hugging Face encoder folder)")
    if not (folder / "config.json").is_file():
        raise CheckpointError(f"encoder folder {folder} has no config.json (expected a Hugging Face encoder folder)")
    verbosity, bars = hf_logging.get_verbosity(), hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()  # no "weights not used" chatter for sentence-transformers folders
    hf_logging.disable_progress_bar()
    try:
        tokenizer = AutoTokenizer.from_pretrained(folder)
        model = AutoModel.from_pretrained(folder)
    except (OSError, ValueError, KeyError, EnvironmentError) as err:
        raise CheckpointError(f"encoder folder {folder} could not be loaded ({err})") from None
    finally:
        hf_logging.set_verbosity(verbosity)
        if bars:
            hf_logging.enable_progress_bar()
    if not hasattr(model.config, "hidden_size"):
        raise CheckpointError(f"encoder folder {folder} holds a {type(model).__name__}, not a text encoder")
    return model, tokenizer
