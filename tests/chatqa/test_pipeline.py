"""The end-to-end RAG pipeline (pipeline.py): the whole conversation is the retriever's query,
the top-k chunks become the App. A context in the chosen order, and the generator answers."""

import pytest

from paperzoo.chatqa.generator import new_generator
from paperzoo.chatqa.pipeline import ChatPipeline, RewritePipeline, history_and_question
from paperzoo.chatqa.retriever import DualEncoder, format_query, search
from paperzoo.core.errors import InputError
from paperzoo.world.conversations import corpus

CONVERSATION = [
    {"role": "user", "content": "what river flows through it ?"},
    {"role": "assistant", "content": "the ulmar ."},
    {"role": "user", "content": "when was it founded ?"},
]


@pytest.fixture(scope="module")
def pipeline():
    chunks = [(c.id, c.text) for d in corpus("test", 0) for c in d.chunks][:40]
    return ChatPipeline(DualEncoder.build("tiny", seed=0).eval(), new_generator("tiny-ci", seed=0), chunks, top_k=3)


def test_history_and_question_splits_a_chatrag_conversation():
    history, question = history_and_question(CONVERSATION)
    assert history == [("what river flows through it ?", "the ulmar .")]
    assert question == "when was it founded ?"
    for bad in ([], CONVERSATION[:2], [CONVERSATION[1], CONVERSATION[2]]):
        with pytest.raises(InputError):
            history_and_question(bad)


def test_the_query_is_the_whole_conversation_and_retrieval_is_the_top_k_by_dot_product(pipeline):
    assert pipeline.query(CONVERSATION) == format_query([("what river flows through it ?", "the ulmar .")],
                                                        "when was it founded ?")
    retrieved = pipeline.retrieve(CONVERSATION)
    q = pipeline.retriever.encode_queries([pipeline.query(CONVERSATION)])
    c = pipeline.retriever.encode_contexts([t for _, t in pipeline.chunks])
    full = (q @ c.T)[0]
    assert [r.id for r in retrieved] == [pipeline.chunks[int(i)][0] for i in full.argsort(descending=True)[:3]]
    assert [r.score for r in retrieved] == pytest.approx(sorted(full.tolist(), reverse=True)[:3], rel=1e-5)


def test_context_order_ranked_reverse_random(pipeline):
    retrieved = pipeline.retrieve(CONVERSATION)
    texts = [r.text for r in retrieved]
    assert pipeline.context(retrieved) == texts
    reverse = ChatPipeline(pipeline.retriever, pipeline.generator, pipeline.chunks, top_k=3, order="reverse",
                           _vectors=pipeline._vectors)
    assert reverse.context(retrieved) == texts[::-1]
    shuffled = ChatPipeline(pipeline.retriever, pipeline.generator, pipeline.chunks, top_k=3, order="random",
                            _vectors=pipeline._vectors)
    assert sorted(shuffled.context(retrieved, 0)) == sorted(texts)
    assert shuffled.context(retrieved, 0) == shuffled.context(retrieved, 0)  # seeded per sample


def test_answer_equals_the_generator_on_the_prompt_with_the_retrieved_context(pipeline):
    answer, retrieved = pipeline.answer(CONVERSATION, max_new_tokens=8)
    direct = pipeline.generator.answer(CONVERSATION, [r.text for r in retrieved], pipeline.instruction, max_new_tokens=8)
    assert answer == direct


def test_rewrite_pipeline_searches_with_the_rewritten_question(pipeline):
    class Fixed:
        def rewrite(self, conversations):
            return ["when was ulmar founded ?" for _ in conversations]

    _, retrieved = RewritePipeline(Fixed(), pipeline).answer(CONVERSATION, max_new_tokens=4)
    _, top = search(pipeline.retriever.encode_queries(["when was ulmar founded ?"]), pipeline._vectors, 3)
    assert [r.id for r in retrieved] == [pipeline.chunks[int(i)][0] for i in top[0]]


def test_bad_settings_get_one_clear_error(pipeline):
    for kwargs in ({"chunks": []}, {"top_k": 0}, {"order": "sideways"}):
        args = {"retriever": pipeline.retriever, "generator": pipeline.generator, "chunks": pipeline.chunks, **kwargs}
        with pytest.raises(InputError):
            ChatPipeline(**args)
