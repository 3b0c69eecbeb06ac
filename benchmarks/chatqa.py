"""ChatQA's three costs, each side by side in one run (paper §4.2, §5).

All on the CPU, 2 threads (torch and numpy's BLAS), untrained weights for the tiny world
models (cost does not depend on the weights); repetitions alternate in ABBA order after a
warm-up (`core.measure.interleaved`); the best time is the ratio's, the median is printed
beside it.

1. End-to-end answer latency, one conversation at a time: the RAG pipeline whose retriever
   reads the whole conversation (`ChatPipeline`: encode the query, top-5 search, answer)
   against rewrite-then-retrieve (`RewritePipeline`: the rewriter first writes a standalone
   question, then the SAME retriever, index and generator). The paper's cost argument (§4.2):
   the fine-tuned retriever removes the rewrite LLM call. A fine-tuned and an untuned
   retriever cost the same (same architecture), so untuned ones time both paths.
   Fixed token counts: greedy decoding stops at EOS, so a forward hook on each LM sets the
   EOS and pad logits to -inf (`FixedLength`): EOS is never emitted and every generate call
   runs exactly max_new_tokens steps. The hook also counts forward passes, so the warm-up
   checks that each path decoded exactly its tokens. Answers are `--answer-tokens` long (32)
   on both paths; the rewriter writes as many tokens as the world's gold standalone questions
   have on average in its tokenizer, plus one for the EOS it would emit (9 tiny, 10 SmolLM2).
   Corpus: the world's chunks (seed 0, 379 chunks); the last turn of world test dialogues
   with at least 3 turns.
     tiny:  tiny DualEncoder, TinyRewriter (0.6M parameters), the tiny Generator (2.9M);
     real:  MiniLM as retriever, SmolLM2-135M-Instruct as generator AND as the App. B.1
            few-shot PromptedRewriter (one model serving both calls). Slow on 2 CPU cores
            (tens of seconds per answer), so it runs without --quick, or with --real.
   Target <= 0.5 holds only where the rewrite call costs at least as much as retrieving and
   answering together: the paper's setting calls a separate large LLM (GPT-3.5-turbo) to
   rewrite; here the tiny rewriter is 5x smaller than the tiny generator and reads a far
   shorter prompt, and SmolLM2 rewrites from a ~420-token few-shot prompt but answers with
   more new tokens.
2. Retrieval throughput over N chunks (default 100k world chunks drawn from many seeds;
   --quick: 20k), the tiny dual encoder: encoding the chunks (chunks/s, tokens/s; the index's
   bytes N x d x 4; this process's peak resident-set increase while encoding, sampled every
   5 ms in a thread from /proc, allocator caches included), then top-5 search with
   `retriever.search` against plain numpy on the same embeddings (q @ C.T, argpartition, a
   sort of the k), one query at a time (the pipeline's case) and a batch of 256 queries. The
   working memory of a 256-query search: the peak resident-set increase in a fresh process
   (core.measure.peak_rss_mib, on random unit vectors of the index's shape), and the arrays
   each side allocates, written out.
   Target <= 1.5: both are the same brute-force algorithm (one GEMM/GEMV on the same float32
   matrix, then a partial selection), so ours should sit at numpy's cost; 1.5 leaves room for
   torch.topk against argpartition and for a loaded machine; more would mean the wrapper
   itself costs. MiniLM over 100k chunks is too slow on 2 cores: a sample of its encoding is
   timed and EXTRAPOLATED linearly to N (labelled as such). World chunks are two sentences
   (about 17 tokens); the paper's chunks are ~300 words, so real encoding reads ~30x more
   tokens per chunk.
3. Greedy generation with the KV cache (each step feeds one token) against without (each step
   runs the whole sequence again), `core.generation.generate(use_cache=...)`, on SmolLM2 when
   its carrier package is installed (else the tiny generator, with a note): one App. A prompt
   of a world conversation with its first five context chunks (~210 tokens), 16 new tokens
   (--quick: 8), EOS banned as above; both must return the same number of tokens. Tokens/s
   cached over uncached; target >= 3.

    python benchmarks/chatqa.py            # 100k chunks, SmolLM2 + MiniLM pipeline latency, more repeats
    python benchmarks/chatqa.py --quick    # 20k chunks, tiny pipeline latency, 8 KV-cache tokens
    python benchmarks/chatqa.py --quick --real    # ... plus the real-weight pipeline latency

Ends with one line per ratio: `ratio <name> = <value> (target <= <x>)` (or `>=`).
"""

import os

os.environ.setdefault("OMP_NUM_THREADS", "2")  # numpy's BLAS reads these at import
os.environ.setdefault("OPENBLAS_NUM_THREADS", "2")

import argparse  # noqa: E402
import functools  # noqa: E402
import statistics  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

from paperzoo.chatqa.generator import Generator, load_generator, new_generator  # noqa: E402
from paperzoo.chatqa.pipeline import ChatPipeline, RewritePipeline, history_and_question  # noqa: E402
from paperzoo.chatqa.retriever import DualEncoder, format_query, search  # noqa: E402
from paperzoo.chatqa.rewrite import PromptedRewriter, TinyRewriter  # noqa: E402
from paperzoo.core import pretrained  # noqa: E402
from paperzoo.core.generation import generate  # noqa: E402
from paperzoo.core.measure import interleaved, peak_rss_mib, rss_mib  # noqa: E402
from paperzoo.world.conversations import corpus, dialogues  # noqa: E402

TOP_K = 5


# ---- helpers ---------------------------------------------------------------------------------------
class FixedLength:
    """A forward hook that sets the logits of `token_ids` (EOS, pad) to -inf, so greedy decoding
    never stops early and every `generate` call runs exactly max_new_tokens steps; `calls`
    counts forward passes (one per decoding step)."""

    def __init__(self, model: torch.nn.Module, token_ids):
        self.banned = torch.tensor(sorted({int(t) for t in token_ids}))
        self.calls = 0
        self.handle = model.register_forward_hook(self._hook)

    def _hook(self, module, args, output):
        self.calls += 1
        output.logits[..., self.banned] = float("-inf")
        return output

    def counted(self, fn) -> int:
        """Forward passes made by `fn()`."""
        before = self.calls
        fn()
        return self.calls - before


class FixedRewriter:
    """A rewriter whose `rewrite` always decodes `tokens` new tokens (RewritePipeline's duck type)."""

    def __init__(self, rewriter, tokens: int):
        self.rewriter, self.tokens = rewriter, tokens

    def rewrite(self, conversations):
        return self.rewriter.rewrite(conversations, max_new_tokens=self.tokens)


class PeakRSS:
    """Resident-set increase (MiB) over a `with` block: its peak, sampled every `every` s in a
    thread (core.measure.rss_mib, /proc), and what stays resident at its end."""

    def __init__(self, every: float = 0.005):
        self.every = every

    def __enter__(self):
        self.before, self._peak, self._done = rss_mib(), 0.0, threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self):
        while not self._done.is_set():
            self._peak = max(self._peak, rss_mib())
            time.sleep(self.every)

    def __exit__(self, *exc):
        self._done.set()
        self._thread.join()
        now = rss_mib()
        self.peak, self.kept = max(self._peak, now) - self.before, now - self.before


def messages_of(dialogue) -> list[dict[str, str]]:
    """A world dialogue's last turn as ChatRAG messages: the earlier turns, then its question."""
    out = []
    for t in dialogue.turns[:-1]:
        out += [{"role": "user", "content": t.question}, {"role": "assistant", "content": t.answer}]
    return out + [{"role": "user", "content": dialogue.turns[-1].question}]


def conversations(n: int) -> list[list[dict[str, str]]]:
    """`n` world test conversations with at least two earlier turns (a history to rewrite)."""
    found = [d for d in dialogues("test", 0, 8 * n) if len(d.turns) >= 3]
    return [messages_of(d) for d in found[:n]]


def world_chunks(n: int | None = None) -> list[tuple[str, str]]:
    """The world's chunks, (id, text): seed 0's (n None), else `n` of them from seeds 0, 1, ..."""
    out: list[tuple[str, str]] = []
    seed = 0
    while True:
        for split in ("train", "test"):
            out += [(f"{seed}:{c.id}", c.text) for d in corpus(split, seed) for c in d.chunks]
        if n is None:
            return out
        if len(out) >= n:
            return out[:n]
        seed += 1


def rewrite_tokens(tokenizer) -> int:
    """The mean length of the world's gold standalone questions in `tokenizer`'s tokens, + 1 (EOS)."""
    lens = [len(tokenizer(t.rewrite, add_special_tokens=False)["input_ids"])
            for d in dialogues("test", 0, 100) for t in d.turns]
    return round(sum(lens) / len(lens)) + 1


@functools.lru_cache(maxsize=1)
def smollm2_generator() -> Generator:
    """SmolLM2-135M-Instruct as a generator, loaded once (parts 1 and 3 share it)."""
    return load_generator(pretrained.SMOLLM2)


def best_median(times: list[float]) -> tuple[float, float]:
    return min(times), statistics.median(times)


# ---- 1. retriever vs rewrite-then-retrieve -----------------------------------------------------------
def bench_latency(name: str, retriever: DualEncoder, generator: Generator, rewriter, rewriter_model,
                  convs, answer_tokens: int, repeats: int, warmup: int = 1) -> float:
    """Seconds per answered turn, ChatPipeline vs RewritePipeline (and the rewrite step alone);
    returns the best-time ratio chat / rewrite."""
    chunks = world_chunks()
    pipe = ChatPipeline(retriever, generator, chunks, top_k=TOP_K)
    r_tokens = rewrite_tokens(rewriter.tokenizer)
    fixed_rw = FixedRewriter(rewriter, r_tokens)
    rew = RewritePipeline(fixed_rw, pipe)
    gen_hook = FixedLength(generator.model, [generator.eos_id, generator.pad_id])
    rw_tok = rewriter.tokenizer
    rw_pad = rw_tok.pad_token_id if rw_tok.pad_token_id is not None else rw_tok.eos_token_id
    shared = rewriter_model is generator.model  # SmolLM2 serves both calls: one hook counts both
    rw_hook = gen_hook if shared else FixedLength(rewriter_model, [rw_tok.eos_token_id, rw_pad])
    try:
        # the check: every generate call runs its full length (EOS banned), on both paths
        c0 = convs[0]
        steps = gen_hook.counted(lambda: pipe.answer(c0, max_new_tokens=answer_tokens))
        assert steps == answer_tokens, f"chat path decoded {steps} steps, expected {answer_tokens}"
        if shared:
            steps = gen_hook.counted(lambda: rew.answer(c0, max_new_tokens=answer_tokens))
            assert steps == r_tokens + answer_tokens, f"rewrite path decoded {steps} steps, expected {r_tokens + answer_tokens}"
        else:
            g0, r0 = gen_hook.calls, rw_hook.calls
            rew.answer(c0, max_new_tokens=answer_tokens)
            assert (gen_hook.calls - g0, rw_hook.calls - r0) == (answer_tokens, r_tokens), \
                f"rewrite path decoded {(gen_hook.calls - g0, rw_hook.calls - r0)}, expected {(answer_tokens, r_tokens)}"
        q_chat = len(retriever.query_inputs([pipe.query(c0)])["input_ids"][0])
        q_rew = len(retriever.query_inputs(fixed_rw.rewrite([history_and_question(c0)]))["input_ids"][0])
        p_gen = len(generator.prompt(c0, pipe.context(pipe.retrieve(c0)), pipe.instruction, answer_tokens))
        p_rw = (len(rewriter.prompt_ids(*history_and_question(c0))) if isinstance(rewriter, PromptedRewriter)
                else len(rewriter.prompt_ids(format_query(*history_and_question(c0)), room=r_tokens)))
        print(f"{name}: {len(chunks)} chunks, top-{TOP_K}, {len(convs)} conversations answered one at a time; "
              f"answers {answer_tokens} tokens on both paths, rewrites {r_tokens} tokens (EOS banned; step counts checked)")
        print(f"  first conversation: retriever query {q_chat} tokens (whole conversation) vs {q_rew} (rewrite); "
              f"generator prompt {p_gen} tokens; rewriter prompt {p_rw} tokens")
        fns = {
            "retriever (ChatPipeline)": lambda: [pipe.answer(c, max_new_tokens=answer_tokens) for c in convs],
            "rewrite-then-retrieve (RewritePipeline)": lambda: [rew.answer(c, max_new_tokens=answer_tokens) for c in convs],
            "the rewrite step alone": lambda: [fixed_rw.rewrite([history_and_question(c)]) for c in convs],
        }
        times = interleaved(fns, repeats, warmup=warmup)
    finally:
        gen_hook.handle.remove()
        rw_hook.handle.remove()
    for k, v in times.items():
        best, med = best_median(v)
        print(f"  {k}: best {best / len(convs):.3f} s per turn, median {med / len(convs):.3f} s")
    return min(times["retriever (ChatPipeline)"]) / min(times["rewrite-then-retrieve (RewritePipeline)"])


# ---- 2. retrieval throughput -----------------------------------------------------------------------
def numpy_search(q: np.ndarray, c: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The baseline: scores = q @ c.T, the k best by argpartition, then sorted (best first)."""
    s = q @ c.T
    part = np.argpartition(-s, k - 1, axis=1)[:, :k]
    top = np.take_along_axis(s, part, axis=1)
    order = np.argsort(-top, axis=1)
    return np.take_along_axis(top, order, axis=1), np.take_along_axis(part, order, axis=1)


def bench_retrieval(n: int, repeats: int, minilm_sample: int) -> dict[str, float]:
    """Encode n chunks with the tiny dual encoder, then top-k search, ours vs numpy."""
    t0 = time.perf_counter()
    chunks = world_chunks(n)
    texts = [t for _, t in chunks]
    print(f"retrieval: {n:,} world chunks from {len({i.split(':')[0] for i, _ in chunks})} seeds "
          f"(made in {time.perf_counter() - t0:.1f} s)")
    enc = DualEncoder.build("tiny", seed=0).eval()
    lengths = [len(r) for r in enc.context_tokenizer(texts[:2000], add_special_tokens=False, verbose=False)["input_ids"]]
    mean_tokens = 2 + sum(lengths) / len(lengths)  # + [CLS]/[SEP]
    enc.encode_contexts(texts[:256])  # warm-up
    with PeakRSS() as mem:
        start = time.perf_counter()
        vectors = enc.encode_contexts(texts)
        encode_s = time.perf_counter() - start
    index_mib = vectors.numel() * vectors.element_size() / 2**20
    print(f"  tiny encoder (d = {enc.dim}): {n / encode_s:,.0f} chunks/s ({n * mean_tokens / encode_s:,.0f} tokens/s, "
          f"~{mean_tokens:.0f} tokens per chunk), {encode_s:.1f} s for all")
    print(f"  index: {tuple(vectors.shape)} float32 = {index_mib:.1f} MiB; resident set while encoding: "
          f"peak +{mem.peak:.1f} MiB, +{mem.kept:.1f} MiB kept after")
    results = {}
    if minilm_sample:
        try:
            pretrained.minilm()
        except pretrained.MissingPackageError as err:
            print(f"  MiniLM: skipped ({err})")
        else:
            mini = DualEncoder.build("minilm").eval()
            mini.encode_contexts(texts[:32])  # warm-up
            start = time.perf_counter()
            mini.encode_contexts(texts[:minilm_sample])
            per = (time.perf_counter() - start) / minilm_sample
            print(f"  MiniLM (d = {mini.dim}): {1 / per:,.0f} chunks/s on a {minilm_sample}-chunk sample; "
                  f"EXTRAPOLATED, not run: {n:,} chunks would take ~{per * n / 60:.0f} min and a "
                  f"{n * mini.dim * 4 / 2**20:.0f} MiB index")
            del mini

    queries = [format_query(*history_and_question(c)) for c in conversations(256)]
    queries = (queries * (256 // len(queries) + 1))[:256]
    start = time.perf_counter()
    qv = enc.encode_queries(queries)
    print(f"  query encoder: {len(queries) / (time.perf_counter() - start):,.0f} conversations/s")
    c_np, q_np = vectors.numpy(), qv.numpy()  # the same embeddings, shared memory
    ours_s, _ = search(qv, vectors, TOP_K)
    base_s, _ = numpy_search(q_np, c_np, TOP_K)
    assert np.allclose(ours_s.numpy(), base_s, atol=1e-5), "search and the numpy baseline disagree on the top-k scores"
    singles = 32
    for label, q_t, q_n, calls in (("one query at a time", qv[:singles], q_np[:singles], singles),
                                   ("a batch of 256 queries", qv, q_np, 1)):
        if calls > 1:
            fns = {"ours": lambda: [search(q_t[i: i + 1], vectors, TOP_K) for i in range(calls)],
                   "numpy": lambda: [numpy_search(q_n[i: i + 1], c_np, TOP_K) for i in range(calls)]}
        else:
            fns = {"ours": lambda: search(q_t, vectors, TOP_K), "numpy": lambda: numpy_search(q_n, c_np, TOP_K)}
        times = interleaved(fns, repeats)
        n_q = len(q_t)
        ours, base = best_median(times["ours"]), best_median(times["numpy"])
        print(f"  top-{TOP_K} search, {label}: ours {n_q / ours[0]:,.0f} queries/s (median {n_q / ours[1]:,.0f}), "
              f"numpy {n_q / base[0]:,.0f} (median {n_q / base[1]:,.0f})")
        results["q1" if calls > 1 else "q256"] = ours[0] / base[0]
    q = len(queries)
    peaks = {k: peak_rss_mib(_unit_index, run, n, enc.dim, q) for k, run in (("ours", _search_ours), ("numpy", _search_numpy))}
    print(f"  working memory of one {q}-query search (peak resident increase in a fresh process, random unit vectors "
          f"of the index's shape): ours +{peaks['ours']:.1f} MiB, numpy +{peaks['numpy']:.1f} MiB; written out: ours "
          f"the (Q, N) float32 scores {q * n * 4 / 2**20:.1f} MiB, numpy the scores, their negation and the int64 "
          f"argpartition indices {q * n * 16 / 2**20:.1f} MiB")
    return results


def _unit_index(n: int, d: int, q: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    unit = lambda rows: torch.nn.functional.normalize(torch.randn(rows, d, generator=g), dim=1)  # noqa: E731
    return unit(q), unit(n)


def _search_ours(state) -> None:
    search(*state, TOP_K)


def _search_numpy(state) -> None:
    numpy_search(state[0].numpy(), state[1].numpy(), TOP_K)


# ---- 3. KV cache -----------------------------------------------------------------------------------
def bench_kv_cache(generator: Generator, new_tokens: int, repeats: int) -> float:
    d = next(d for d in dialogues("test", 0, 40) if len(d.turns) >= 3)
    context = [c.text for c in d.context[:TOP_K]]
    prompt = generator.prompt(messages_of(d), context, "", new_tokens)
    hook = FixedLength(generator.model, [generator.eos_id, generator.pad_id])
    kw = dict(max_new_tokens=new_tokens, eos_id=generator.eos_id, pad_id=generator.pad_id, temperature=0.0)
    out = {}
    try:
        for use_cache in (True, False):  # a short warm-up of each path
            generate(generator.model, [prompt], **{**kw, "max_new_tokens": 2}, use_cache=use_cache)
        fns = {"cached": lambda: out.__setitem__("cached", generate(generator.model, [prompt], **kw)),
               "uncached": lambda: out.__setitem__("uncached", generate(generator.model, [prompt], use_cache=False, **kw))}
        times = interleaved(fns, repeats, warmup=0)
    finally:
        hook.handle.remove()
    lens = {k: len(v[0][0]) for k, v in out.items()}
    assert lens == {"cached": new_tokens, "uncached": new_tokens}, f"token counts {lens}, expected {new_tokens} each"
    same = out["cached"] == out["uncached"]
    tps = {k: (new_tokens / min(v), new_tokens / statistics.median(v)) for k, v in times.items()}
    print(f"  prompt {len(prompt)} tokens, {new_tokens} new tokens on both (greedy, EOS banned; the same tokens: {same}); "
          f"tokens/s cached {tps['cached'][0]:.2f} (median {tps['cached'][1]:.2f}), "
          f"uncached {tps['uncached'][0]:.2f} (median {tps['uncached'][1]:.2f})")
    return tps["cached"][0] / tps["uncached"][0]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="20k chunks, fewer repeats, tiny pipeline latency only")
    parser.add_argument("--real", action="store_true", help="with --quick: also time the SmolLM2 + MiniLM pipeline")
    parser.add_argument("--chunks", type=int, default=None, help="chunks to index (default 100k; --quick 20k)")
    parser.add_argument("--answer-tokens", type=int, default=32, help="tokens of every answer (default 32)")
    args = parser.parse_args()
    torch.set_num_threads(2)
    warnings.filterwarnings("ignore")
    started = time.perf_counter()
    n_chunks = args.chunks or (20_000 if args.quick else 100_000)
    repeats = 3 if args.quick else 5
    ratios = []

    def ratio(name, value, op, target):
        ratios.append(f"ratio {name} = {value:.2f} (target {op} {target})")

    def smollm2_or_note(what):
        try:
            pretrained.smollm2()
            pretrained.minilm()
            return True
        except pretrained.MissingPackageError as err:
            print(f"{what}: skipped, a carrier package is missing ({err})")
            return False

    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, numpy {np.__version__}\n")
    # 1. tiny world
    gen = new_generator("tiny", seed=0)
    rw = TinyRewriter.new(seed=0)
    tiny = bench_latency("pipeline latency, tiny", DualEncoder.build("tiny", seed=0).eval(), gen, rw, rw.model,
                         conversations(3 if args.quick else 8), args.answer_tokens, 4 if args.quick else 5)
    ratio("latency_retriever_over_rewrite_tiny", tiny, "<=", 0.5)
    # 1. real weights
    real = None
    if args.quick and not args.real:
        print("pipeline latency, SmolLM2 + MiniLM: skipped in --quick (tens of seconds per answer on 2 cores); "
              "run without --quick, or add --real")
    elif smollm2_or_note("pipeline latency, SmolLM2 + MiniLM"):
        smol = smollm2_generator()
        prompted = PromptedRewriter(smol.model, smol.tokenizer)  # the same model serves both calls
        real = bench_latency("pipeline latency, SmolLM2 generator + SmolLM2 App. B.1 rewriter + MiniLM retriever",
                             DualEncoder.build("minilm").eval(), smol, prompted, smol.model,
                             conversations(2), args.answer_tokens, 2 if args.quick else 3, warmup=0)
        ratio("latency_retriever_over_rewrite_smollm2", real, "<=", 0.5)
    # 2.
    print()
    search_ratios = bench_retrieval(n_chunks, 15 if args.quick else 25, 256 if args.quick else 2000)
    tag = f"{n_chunks // 1000}k" if n_chunks >= 1000 else str(n_chunks)
    ratio(f"search_over_numpy_{tag}_one_query", search_ratios["q1"], "<=", 1.5)
    ratio(f"search_over_numpy_{tag}_batch256", search_ratios["q256"], "<=", 1.5)
    # 3.
    print()
    new_tokens = 8 if args.quick else 16
    if smollm2_or_note("KV cache on SmolLM2"):
        print("KV cache, SmolLM2-135M-Instruct (real weights):")
        speed = bench_kv_cache(smollm2_generator(), new_tokens, 2 if args.quick else 3)
        ratio("kv_cache_speedup_smollm2", speed, ">=", 3)
    else:
        print("KV cache, the tiny generator instead (note: not SmolLM2):")
        speed = bench_kv_cache(new_generator("tiny", seed=0), new_tokens, repeats)
        ratio("kv_cache_speedup_tiny", speed, ">=", 3)
    print(f"\nwall time {time.perf_counter() - started:.0f} s")
    print("\n".join(ratios))


if __name__ == "__main__":
    main()
