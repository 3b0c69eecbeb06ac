"""Local training data for the generator's stages (`data.py`): a ChatQA-Training-Data folder with
every answer shape, drawn by the card's weights (renormalised over the files present) as a pure
function of (seed, step, position); user JSONL with one clear error per bad line; App. C.2 tables;
and two tuning steps per stage on the data, in Python and through `chatqa train --data`."""

import json
import math
import warnings

import pytest
from click.testing import CliRunner

from paperzoo.chatqa import blends, data
from paperzoo.chatqa.template import (INSTRUCTION_ARITHMETIC, INSTRUCTION_FULL, INSTRUCTION_SHORT_SPAN,
                                      INSTRUCTION_SPAN_OR_FULL, build_sample, markdown_table)
from paperzoo.core.errors import InputError

DOC = "the zorb is red . the blip is 7 years old ."


def qa(question, answers, document=DOC, history=()):
    messages = [m for q, a in history for m in ({"role": "user", "content": q}, {"role": "assistant", "content": a})]
    record = {"messages": messages + [{"role": "user", "content": question}], "answers": answers}
    if document is not None:
        record["document"] = document
    return record


# Every answer shape of the release: a string (drop, quoref, ropes, tatqa, synthetic_convqa, sft), a
# list of references (narrativeqa), {"text": ...} (squad), and records without an answer (skipped).
FILES = {
    "drop/train.json": [qa("how old is the blip ?", ["7"]), qa("what colour is the zorb ?", ["red"])],
    "narrativeqa/train.json": [qa("what colour is the zorb ?", [["red", "it is red"]])],
    "quoref/train.json": [qa("what is red ?", ["the zorb"])],
    "ropes/train.json": [qa("what is 7 years old ?", ["the blip"])],
    "squad1.1/train.json": [qa("what colour is the zorb ?", [{"text": "red", "answer_start": 12}])],
    "squad2.0/train.json": [qa("how old is the zorb ?", []), qa("how old is it ?", None),
                            qa("how old is the blip ?", [{"text": "7 years", "answer_start": 30}])],
    "tatqa/train_arithmetic.json": [qa("what is 7 + 7 ?", ["14"])],
    "tatqa/train_others.json": [qa("what is the blip ?", ["7 years old"])],
    "synthetic_convqa/train.json": [qa("how old is it ?", ["7 years"], history=[("what is the blip ?", "it is 7 years old")])],
    "sft/train.json": [qa("how old is it ?", ["7 years"], document=None, history=[("what is 7 ?", "a number")]),
                       qa("what colour is red ?", ["red"], document=None)],
}  # newsqa/ is missing (the release itself removed it later)


def release(root):
    for name, records in FILES.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(json.dumps(records))
    return root


def load(root, seed=0):
    with pytest.warns(data.DataWarning) as caught:
        loaded = data.load_release(root, seed)
    return loaded, [str(w.message) for w in caught]


def test_release_folder_maps_sources_answers_and_instructions(tmp_path):
    loaded, messages = load(release(tmp_path / "root"))
    assert sum("newsqa/train.json" in m for m in messages) == 1  # one warning naming the missing file
    assert any("squad2.0: 2" in m for m in messages)  # the two records without an answer, counted
    assert loaded.skipped["squad2.0"] == 2 and len(loaded.sources["squad2.0"].records) == 1
    present = {k: v[0] for k, v in blends.SOURCES.items() if k != "newsqa"}
    for name, p in loaded.weights.items():  # the card's weights, renormalised over what is present
        assert math.isclose(p, present[name] / sum(present.values()))
    assert set(loaded.weights) == set(present)
    instruction = {"drop": INSTRUCTION_SHORT_SPAN, "narrqa": INSTRUCTION_SHORT_SPAN, "squad1.1": INSTRUCTION_SHORT_SPAN,
                   "tatqa-arith": INSTRUCTION_ARITHMETIC, "tatqa-other": INSTRUCTION_SPAN_OR_FULL,
                   "synth_convqa": INSTRUCTION_FULL, "sft": ""}
    batch = loaded(0, 400)
    narrative = set()
    for s in batch:
        assert s.messages[-1]["role"] == "assistant" and s.group == blends.SOURCES[s.source][1]
        if s.source in instruction:
            assert s.instruction == instruction[s.source]
        assert s.context == (() if s.source == "sft" else (DOC,))
        build_sample(s.messages, s.context, s.instruction)  # a valid App. A sample
        if s.source == "narrqa":
            narrative.add(s.answer)
        if s.source == "squad2.0":
            assert s.answer == "7 years"
        if s.source == "synth_convqa":
            assert [m["content"] for m in s.messages] == ["what is the blip ?", "it is 7 years old", "how old is it ?", "7 years"]
    assert narrative == {"red", "it is red"}  # one reference drawn per sample


def test_sampler_is_a_pure_function_of_seed_step_and_position(tmp_path):
    root = release(tmp_path / "root")
    a, _ = load(root)
    b, _ = load(root)  # a fresh load (a resumed process) draws the same
    assert a(7, 16) == b(7, 16) and a(7, 16) != a(8, 16)
    assert a(7, 16)[:5] == a(7, 5)  # position i of a step does not depend on the batch size
    assert a(7, 16) != load(root, seed=1)[0](7, 16)
    for i, s in enumerate(a(3, 32)):  # the source of each sample is blends' weighted draw
        assert s.source == blends.draw_source(0, blends.sample_index(3, i), a.names, a.p)


def test_source_proportions_follow_the_weights(tmp_path):
    """12,000 draws: every source's share within 4 binomial standard errors of its renormalised
    card weight (a uniform draw over sources, or the weights not renormalised over the files
    present, misses by 6-20 SE)."""
    loaded, _ = load(release(tmp_path / "root"))
    n, counts = 12_000, dict.fromkeys(loaded.names, 0)
    for step in range(n // 100):
        for s in loaded(step, 100):
            counts[s.source] += 1
    for name, p in loaded.weights.items():
        se = math.sqrt(p * (1 - p) / n)
        assert abs(counts[name] / n - p) < 4 * se, (name, counts[name] / n, p)


def test_stage1_is_the_sft_source_and_stage_sources_defaults(tmp_path):
    root = release(tmp_path / "root")
    with pytest.warns(data.DataWarning):
        s1, s2 = data.stage_sources(0, root, None)
    assert list(s1.weights) == ["sft"] and {s.source for s in s1(0, 20)} == {"sft"}
    assert all(s.context == () and s.instruction == "" for s in s1(0, 20))
    assert "sft" in s2.weights  # stage 2 blends all of stage 1's data
    world1, world2 = data.stage_sources(0)  # no data: the world blends, unchanged
    assert world1(2, 4) == blends.stage1(0)(2, 4) and world2(2, 4) == blends.stage2(0)(2, 4)
    only1, none2 = data.stage_sources(0, stages=("1",), sft_data=root)
    assert none2 is None and list(only1.weights) == ["sft"]


def test_missing_or_empty_root_is_one_error(tmp_path):
    with pytest.raises(InputError, match="no such ChatQA-Training-Data folder"):
        data.load_release(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match=r"empty: none of the ChatQA-Training-Data files.*drop/train.json.*sft/train.json"):
        data.stage2(tmp_path / "empty")
    root = release(tmp_path / "lfs")
    (root / "drop/train.json").write_text("version https://git-lfs.github.com/spec/v1\noid sha256:00\nsize 1\n")
    with pytest.raises(InputError, match="drop/train.json is a Git LFS pointer"), warnings.catch_warnings():
        warnings.simplefilter("ignore", data.DataWarning)
        data.load_release(root)
    (root / "drop/train.json").write_text(json.dumps([{"messages": [{"role": "assistant", "content": "hi"}]}]))
    with pytest.raises(InputError, match=r"drop/train.json: record 0: messages\[0\] has role 'assistant'"), \
            warnings.catch_warnings():
        warnings.simplefilter("ignore", data.DataWarning)
        data.load_release(root)


def jsonl(path, rows):
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


CHAT = {"messages": [{"role": "user", "content": "what is 7 ?"}, {"role": "assistant", "content": "a number"}]}
GROUNDED = {"messages": [{"role": "user", "content": "what colour is the zorb ?"}], "answers": ["red"], "context": DOC}


def test_user_jsonl_for_either_stage(tmp_path):
    table = {**GROUNDED, "table": [["name", "age"], ["blip", 7]], "instruction": "Answer briefly."}
    path = jsonl(tmp_path / "mine.jsonl", [CHAT, "", GROUNDED, table])
    with pytest.warns(data.DataWarning, match="leaves out 2 records with a context"):
        s1 = data.stage1(path)
    assert {(s.answer, s.instruction, s.context, s.group) for s in s1(0, 10)} == {("a number", "", (), "sft")}
    s2 = data.stage2(path)
    seen = {s.instruction: s for s in s2(0, 60)}
    assert set(seen) == {"", INSTRUCTION_FULL, "Answer briefly."}  # a record's own, else by its context
    assert seen[INSTRUCTION_FULL].context == (DOC,) and seen[INSTRUCTION_FULL].answer == "red"
    assert seen["Answer briefly."].context == (DOC, "| blip (name) | age: 7 |")
    assert s2(4, 12) == data.stage2(path)(4, 12)


def test_a_malformed_jsonl_line_is_one_error_naming_file_and_line(tmp_path):
    cases = [
        ([CHAT, CHAT, "{not json"], r"bad.jsonl:3: not a JSON object"),
        ([CHAT, {"messages": [{"role": "user", "content": "hi"}]}], r"bad.jsonl:2: no latest answer"),
        ([{"messages": [{"role": "user", "content": "a"}, {"role": "user", "content": "b"}]}],
         r"bad.jsonl:1: messages\[1\] has role 'user'; expected 'assistant'"),
        ([{**CHAT, "answers": ["twice"]}], r"bad.jsonl:1: .*give the latest answer once"),
        ([{**GROUNDED, "table": [["a", "b"], ["only one"]]}], r"bad.jsonl:1: markdown_table: row 1 has 1 cells"),
        (["[" + json.dumps(CHAT) + "]"], r"bad.jsonl:1: .*a JSON list\? expected one JSON object per line"),
    ]
    for rows, message in cases:
        with pytest.raises(InputError, match=message):
            data.stage2(jsonl(tmp_path / "bad.jsonl", rows))
    with pytest.raises(InputError, match="none.jsonl: no such file or folder"):
        data.stage2(tmp_path / "none.jsonl")
    with pytest.raises(InputError, match="no records without a context"), pytest.warns(data.DataWarning):
        data.stage1(jsonl(tmp_path / "grounded.jsonl", [GROUNDED]))


def test_markdown_table_is_the_papers_app_c2_form():
    """App. C.2's example (its converted table says "Paris" for "Lucerne", a typo; the rule is the text's)."""
    rows = [["Boat", "Crew", "Nation", "Date", "Meet", "Location"],
            ["M1x", "Mahe", "FR", 2009, "", "Poznan"],
            ["M2-", "Hamish", "US", 2012, "Olympics", "Lucerne"],
            ["M2+", "Igor", "DE", 1994, None, "Indianapolis"]]
    assert markdown_table(rows) == (
        "| M1x (Boat) | Crew: Mahe | Nation: FR | Date: 2009 | Meet: | Location: Poznan |\n"
        "| M2- (Boat) | Crew: Hamish | Nation: US | Date: 2012 | Meet: Olympics | Location: Lucerne |\n"
        "| M2+ (Boat) | Crew: Igor | Nation: DE | Date: 1994 | Meet: | Location: Indianapolis |")
    assert markdown_table([["a"]]) == ""
    with pytest.raises(InputError, match="header row first"):
        markdown_table([])


def test_two_tuning_steps_per_stage_on_the_release_folder_and_through_the_cli(tmp_path):
    """Stage 1 on the folder's sft/, stage 2 on all of it, on a tiny random HF Llama folder (a word
    tokenizer: words outside it become <unk>, which tuning takes as it is); then `chatqa train --data`."""
    import torch

    from paperzoo.chatqa.cli import cli
    from paperzoo.chatqa.config import StageRecipe, TuningRecipe
    from paperzoo.chatqa.generator import Generator
    from paperzoo.chatqa.tuning import two_stage

    from tests.chatqa.test_tuning import hf_folder

    root = release(tmp_path / "root")
    folder = hf_folder(tmp_path)
    with pytest.warns(data.DataWarning):
        s1, s2 = data.stage_sources(0, root)
    stage = StageRecipe(lr=3e-3, min_lr=3e-4, steps=2, batch_size=4)
    gen, hist = two_stage(Generator.from_pretrained(folder), TuningRecipe(stage1=stage, stage2=stage), tmp_path / "run",
                          stage1=s1, stage2=s2, device="cpu", progress=False)
    assert hist["stage1"] and hist["stage2"][-1]["step"] == 2 and all(math.isfinite(h["loss"]) for h in hist["stage2"])
    tuned = Generator.from_pretrained(tmp_path / "run/stage2/model").model.state_dict()
    base = Generator.from_pretrained(folder).model.state_dict()
    assert not torch.equal(tuned["model.layers.0.mlp.up_proj.weight"], base["model.layers.0.mlp.up_proj.weight"])

    with pytest.warns(data.DataWarning):
        result = CliRunner().invoke(cli, ["train", "--model", str(folder), "--data", str(root), "--steps", "1",
                                          "--device", "cpu", "--out", str(tmp_path / "cli")])
    assert result.exit_code == 0, result.output
    assert "ChatQA-Training-Data at" in result.output and "synth_convqa" in result.output
    assert (tmp_path / "cli/stage1/model/config.json").is_file() and (tmp_path / "cli/stage2/model/config.json").is_file()
    result = CliRunner().invoke(cli, ["train", "--model", str(folder), "--data", str(tmp_path / "nowhere"),
                                      "--out", str(tmp_path / "x")])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "nowhere: no such file or folder; expected a ChatQA-Training-Data folder or a JSONL file" in result.output
