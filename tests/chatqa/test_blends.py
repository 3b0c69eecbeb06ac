"""The stage-1 and stage-2 blends: the card's weights mapped onto the world's groups, drawn in
those proportions (within the binomial standard error), the App. A layout of each group, and
samples that are a pure function of (seed, step)."""

import math

import numpy as np
import pytest

from paperzoo.chatqa import blends
from paperzoo.chatqa.template import (INSTRUCTION_ARITHMETIC, INSTRUCTION_FULL, INSTRUCTION_SHORT_SPAN,
                                      INSTRUCTION_SPAN_OR_FULL, build_sample)
from paperzoo.core.errors import ConfigError
from paperzoo.world.conversations import REFUSAL


def test_weights_are_the_cards_and_map_onto_the_groups():
    w = {k: v[0] for k, v in blends.SOURCES.items()}
    assert w == {"drop": .069, "narrqa": .095, "quoref": .026, "ropes": .026, "squad1.1": .095, "squad2.0": .095,
                 "newsqa": .095, "tatqa-arith": .15, "tatqa-other": .08, "synth_convqa": .3, "sft": .2}
    assert math.isclose(sum(w.values()), 1.231)
    g = blends.group_weights()
    assert math.isclose(g["conversational"], .3 / 1.231) and math.isclose(g["arithmetic"], .15 / 1.231)
    assert math.isclose(g["single_turn"], .581 / 1.231) and math.isclose(g["sft"], .2 / 1.231)


def test_source_draws_match_the_weights_within_binomial_error():
    p = blends.normalised_weights()
    names, probs = list(p), np.array(list(p.values()))
    n = 12000
    counts = dict.fromkeys(names, 0)
    for index in range(n):
        counts[blends.draw_source(7, blends.sample_index(index // 16, index % 16), names, probs)] += 1
    for name in names:
        se = math.sqrt(p[name] * (1 - p[name]) / n)
        assert abs(counts[name] / n - p[name]) < 4 * se, (name, counts[name] / n, p[name])


def test_stage2_samples_follow_their_source_and_are_deterministic():
    draw = blends.stage2(0)
    batch = draw(5, 48)
    assert batch == blends.stage2(0)(5, 48) and batch != draw(6, 48)
    names, probs = list(blends.normalised_weights()), np.array(list(blends.normalised_weights().values()))
    for i, s in enumerate(batch):
        source = blends.draw_source(0, blends.sample_index(5, i), names, probs)
        assert s.source == source and s.group == blends.SOURCES[source][1]
        expected = {"conversational": INSTRUCTION_FULL, "arithmetic": INSTRUCTION_ARITHMETIC, "sft": "",
                    "single_turn": INSTRUCTION_SPAN_OR_FULL if source == "tatqa-other" else INSTRUCTION_SHORT_SPAN}
        assert s.instruction == expected[s.group]
        assert (len(s.context) == 0) == (s.group == "sft")
        text = build_sample(s.messages, s.context, s.instruction)
        if s.instruction:
            assert text.count(s.instruction) == 1  # on the first user turn only
        if s.group in ("single_turn", "conversational") and s.answer != REFUSAL:
            assert s.answer in " ".join(s.context)  # an extractive span of the context
        if s.group == "arithmetic":
            assert s.answer.isdigit()


def test_stage1_samples_are_instruction_tasks_without_context_or_instruction():
    from paperzoo.world.instructions import FAMILIES

    batch = blends.stage1(0)(0, 30)
    assert batch == blends.stage1(0)(0, 30)
    assert {len(s.messages) // 2 for s in batch} == {1, 2, 3}  # 1-3 tasks per conversation
    for s in batch:
        assert s.context == () and s.instruction == "" and s.group == "sft"
        assert all(m["content"].split()[0] in FAMILIES for m in s.messages[::2])
        assert "\n\nUser: " in build_sample(s.messages) and "\n\n\n" not in build_sample(s.messages)


def test_conversational_samples_end_at_a_drawn_turn_and_unanswerable_share():
    draw = blends.stage2(0, unanswerable=0.5, sources={"synth_convqa": blends.SOURCES["synth_convqa"]})
    batch = draw(0, 200)
    assert {s.group for s in batch} == {"conversational"}
    refusals = sum(s.answer == REFUSAL for s in batch)
    # half the dialogues end unanswerable; those are always sampled at their last turn,
    # the answerable ones at a uniform turn: about 100 of 200 (binomial SE ~7)
    assert 70 < refusals < 130
    assert len({len(s.messages) for s in batch}) >= 4  # prefixes of several lengths
    none = blends.stage2(0, unanswerable=0.0, sources={"synth_convqa": blends.SOURCES["synth_convqa"]})(0, 100)
    assert not any(s.answer == REFUSAL for s in none)


def test_ablation_sources_and_bad_blends():
    no_conv = {k: v for k, v in blends.SOURCES.items() if k != "synth_convqa"}
    assert "conversational" not in {s.group for s in blends.stage2(0, sources=no_conv)(0, 64)}
    with pytest.raises(ConfigError, match="unknown sources"):
        blends.stage2(0, sources={"hotpotqa": (1.0, "single_turn", "short_span")})
    with pytest.raises(ConfigError, match="weight 0"):
        blends.stage2(0, sources={"sft": (0.0, "sft", "sft")})


def test_follow_up_eval_is_held_out_with_gold_context():
    from paperzoo.world.conversations import split_entities

    ev = blends.follow_up_eval("test", 0, 20)
    assert ev and all(s.answer in " ".join(s.context) for s in ev)
    held = {e.name for e in split_entities("test")}
    train = {e.name for e in split_entities("train")}
    words = {w for s in ev for c in s.context for w in c.replace(".", " ").split()}
    assert words & held and not words & train


def test_pools_spread_over_world_fact_draws():
    """Training items come from WORLD_SEEDS fact draws of the training entities (so reading the
    context, not memorising 60 entities' facts, answers them); seeds do not overlap across run seeds."""
    from paperzoo.world.conversations import facts, split_entities

    seeds0 = {blends.world_item(0, j)[0] for j in range(100)}
    seeds1 = {blends.world_item(1, j)[0] for j in range(100)}
    assert len(seeds0) == len(seeds1) == blends.WORLD_SEEDS and not seeds0 & seeds1
    e = split_entities("train")[0].id
    assert len({tuple(sorted(facts(e, s).items())) for s in sorted(seeds0)[:3]}) == 3
