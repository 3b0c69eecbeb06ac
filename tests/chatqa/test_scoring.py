"""ChatRAG-Bench scoring: hand-computed cases, the card's Avg-Both example, and parity with the
official get_scores.py functions on a fixture we made (tests/fixtures/chatqa/make_fixture.py)."""

import json
from pathlib import Path

import pytest

from paperzoo.chatqa.bench import load_gold, load_predictions, score_records
from paperzoo.chatqa.scoring import (
    REFUSAL, UNANSWERABLE_KEYPHRASES, avg_both, combine, convfinqa_correct, exact_match, f1_score,
    map_refusal, normalize_answer, says_refusal, score_dataset, token_f1,
)

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "chatqa"


def test_normalisation_drops_case_punctuation_articles_and_spaces():
    assert normalize_answer("The  Cat's hat, an apple; A-team!") == "cat s hat apple team"
    assert normalize_answer("theory another") == "theory another"      # articles only as whole words
    assert normalize_answer("a an the ...") == ""


def test_token_f1_by_hand():
    # pred {cat, sat}, gold {cat, sat, down}: P = 2/2, R = 2/3, F1 = 2PR/(P+R) = 0.8
    assert token_f1("The cat sat.", "cat sat down") == pytest.approx(0.8)
    # multiset overlap: gold "a a b" -> [b] after articles go; pred "b b" -> overlap 1, P = 1/2, R = 1
    assert token_f1("b b", "a a b") == pytest.approx(2 * 0.5 * 1 / 1.5)
    assert token_f1("", "anything") == 0.0                              # empty prediction
    assert token_f1("...", "word") == 0.0                               # nothing left after normalisation
    assert token_f1("word", "the") == 0.0                               # reference empty after normalisation


def test_multiple_references_take_the_max_and_skip_empty_ones():
    assert f1_score("monday", ["On Monday, the 3rd.", "monday"]) == 1.0
    assert f1_score("old man", ["", "an old man"]) == 1.0
    assert f1_score("anything", ["", "  "]) is None                     # left out of the mean
    assert exact_match("The Monday!", ["monday the 3rd", "monday"]) == 1.0
    assert exact_match("monday 3rd", ["monday"]) == 0.0
    assert exact_match("x", [" "]) is None


def test_refusal_keyphrases():
    assert len(UNANSWERABLE_KEYPHRASES) == 37 and "couldnot answer" in UNANSWERABLE_KEYPHRASES
    assert map_refusal("The text does NOT MENTION it.") == REFUSAL
    assert map_refusal("Blue Sky") == "blue sky"                        # lower-cased, as the official loop does
    assert says_refusal("I don't know.") and says_refusal("sorry, it cannot find the answer")
    assert not says_refusal("He was born in 1950.") and not says_refusal("Sorry, no.")


def test_quac_and_doqa_accuracies_by_hand():
    answers = [[REFUSAL], [REFUSAL], ["1950"], ["in london"], ["blue"]]
    preds = ["I cannot find it.", "It was 1950.", "1950", "There is no information.", "blue"]
    s = score_dataset("doqa_cooking", preds, answers)
    assert (s.n_unanswerable, s.n_answerable) == (2, 3)
    assert s.unanswerable_acc == pytest.approx(50.0) and s.answerable_acc == pytest.approx(200 / 3)
    assert s.avg_no_yes == pytest.approx((50 + 200 / 3) / 2)
    # F1 after the keyphrase mapping: refusal vs refusal = 1, "it was 1950" vs refusal = 0, 1, 0, 1
    assert s.f1 == pytest.approx(100 * 3 / 5)
    # QuAC: an answerable turn counts for "yes" only when its context held the gold chunk.
    q = score_dataset("quac", preds, answers, gold_in_context=[None, None, True, False, True])
    assert q.n_answerable == 2 and q.answerable_acc == 100.0 and q.unanswerable_acc == 50.0


def test_inscit_drops_the_added_refusal_reference():
    s = score_dataset("inscit", [REFUSAL], [[REFUSAL, "It is in Peru."]])
    assert s.f1 == 0.0
    assert score_dataset("doc2dial", [REFUSAL], [[REFUSAL, "It is in Peru."]]).f1 == 100.0


def test_convfinqa_containment_rule():
    assert convfinqa_correct("The change was 20 million.", 20.0, "subtract(120, 100)", "what?")   # 20.0 -> "20"
    assert convfinqa_correct("$3,000 million", 3000, "add(1000, 2000)", "total?")
    assert convfinqa_correct("about 0.143", 0.14286, "divide(1, 7)", "ratio?")                   # round 3
    assert convfinqa_correct("12.5 percent", 0.125, "divide(1, 8)", "what percent is that?")      # x100
    assert not convfinqa_correct("12.5 percent", 0.125, "divide(1, 8)", "what ratio is that?")
    assert convfinqa_correct("a decrease of 10.0", -10.0, "subtract(90, 100)", "how?")
    # The comma removal also breaks a formula with ", " in it: the official rule misses this one.
    assert not convfinqa_correct("subtract(5, 3) gives 2", 2.5, "subtract(5, 3)", "formula?")
    assert convfinqa_correct("10 (2017) + 20 (2018) = 30.5", 30.5, "add(10, 20)", "?")
    s = score_dataset("convfinqa", ["20", "nope"], [["f"], ["g"]], exe_answers=[20, 1.5], questions=["a", "b"])
    assert s.metric == "EM" and s.score == 50.0


# Table 6 (ChatQA v1): (QuAC no, yes, Avg-QuAC), (DoQA no, yes, Avg-DoQA), Avg-Both.
TABLE_6 = {
    "1k": ((75.10, 86.67, 80.89), (64.49, 81.26, 72.88), 76.88),
    "1.5k": ((77.66, 83.85, 80.76), (68.81, 78.67, 73.74), 77.25),
    "2k": ((77.59, 84.05, 80.82), (67.95, 78.80, 73.38), 77.10),
    "2.5k": ((73.76, 83.85, 78.81), (66.54, 79.31, 72.93), 75.87),
    "SyntheticConvQA": ((55.38, 90.42, 72.92), (45.09, 88.45, 66.77), 69.84),
    "GPT-3.5-turbo": ((61.91, 94.76, 78.34), (51.99, 84.43, 68.21), 73.27),
    "GPT-4": ((83.45, 91.38, 87.42), (74.28, 73.82, 74.05), 80.73),
}


def test_avg_both_is_two_level_as_in_table_6():
    """Card "Review" #1: QuAC (77.66 + 83.85)/2 = 80.76, then with DoQA's 73.74: 77.25; and every
    other row of Table 6 (to the 2-decimal rounding of its inputs, 0.005)."""
    per, both = avg_both({"quac": (77.66, 83.85), "doqa": (68.81, 78.67)})
    assert per["quac"] == pytest.approx(80.755) and per["doqa"] == pytest.approx(73.74)
    assert both == pytest.approx(77.2475) and f"{both:.2f}" == "77.25"
    for row, ((qn, qy, q_avg), (dn, dy, d_avg), table_both) in TABLE_6.items():
        per, both = avg_both({"quac": (qn, qy), "doqa": (dn, dy)})
        assert abs(both - table_both) <= 0.0051, row
        assert abs(per["doqa"] - d_avg) <= 0.0051, row
        # The paper's Avg-QuAC for the SyntheticConvQA row is 72.92, but (55.38 + 90.42)/2 = 72.90.
        assert abs(per["quac"] - q_avg) <= (0.0201 if row == "SyntheticConvQA" else 0.0051), row
    # Each dataset weighs the same, however many turns it has (not a pooled accuracy over turns).
    big = score_dataset("quac", [REFUSAL] * 9 + ["x"], [[REFUSAL]] * 9 + [["x"]])          # no 100, yes 100
    small = score_dataset("doqa_cooking", ["x", "x"], [[REFUSAL], ["x"]])                 # no 0, yes 100
    assert combine({"quac": big, "doqa_cooking": small})["avg_both"] == pytest.approx((100 + 50) / 2)


def test_combine_averages_doqa_domains_then_datasets():
    def perfect(name):
        return score_dataset(name, ["x"] * 2 + [REFUSAL] * 2, [["x"], ["x"], [REFUSAL], [REFUSAL]])

    scores = {n: perfect(n) for n in ("quac", "doqa_cooking", "doqa_travel", "doqa_movies", "doc2dial")}
    scores["doqa_movies"] = score_dataset("doqa_movies", ["x", "y", "x", "x"], [["x"], ["x"], [REFUSAL], [REFUSAL]])
    out = combine(scores)
    # doqa_movies: F1 25, no 0, yes 100 -> DoQA F1 (100 + 100 + 25)/3, no 200/3, yes 100
    assert set(out["datasets"]) == {"quac", "doqa", "doc2dial"}
    assert out["datasets"]["doqa"] == pytest.approx(75.0) and out["average"] == pytest.approx((100 + 75 + 100) / 3)
    assert out["no_yes"]["doqa"]["no"] == pytest.approx(200 / 3) and out["no_yes"]["doqa"]["yes"] == 100.0
    assert out["avg_both"] == pytest.approx((100 + (200 / 3 + 100) / 2) / 2)
    part = combine({"doqa_cooking": scores["doqa_cooking"]})
    assert set(part["datasets"]) == {"doqa_cooking"}


def official():
    return json.loads((FIXTURE / "official.json").read_text())


@pytest.mark.parametrize("name", ["doc2dial", "quac", "doqa_cooking", "inscit", "convfinqa"])
def test_parity_with_the_official_functions(name):
    """Same numbers as the official get_scores.py functions on our fixture files: per-record F1
    (or ConvFinQA correctness) and the per-file aggregates, incl. QuAC's index-list rule."""
    from paperzoo.chatqa.bench import quac_gold_in_context

    entry = official()["files"][name]
    records = load_gold(FIXTURE / entry["gold"], name)
    preds = load_predictions(FIXTURE / entry["predictions"])
    if name == "convfinqa":
        mine = [convfinqa_correct(p, r.exe_answer, r.answers[0], r.question) for p, r in zip(preds, records)]
        assert mine == entry["correct_per_record"]
        assert score_records(name, preds, records).score / 100 == pytest.approx(entry["em_printed"], abs=5e-5)
        return
    per = [score_dataset(name, [p], [r.answers]).f1 for p, r in zip(preds, records)]
    assert [None if v is None else v / 100 for v in per] == pytest.approx(entry["f1_per_record"], abs=1e-12)
    mask = quac_gold_in_context(official()["quac_index_list"], records) if name == "quac" else None
    s = score_records(name, preds, records, gold_in_context=mask)
    assert s.f1 / 100 == pytest.approx(entry["f1"], abs=1e-12)
    if "unanswerable_acc_printed" in entry:
        assert s.unanswerable_acc / 100 == pytest.approx(entry["unanswerable_acc_printed"], abs=5e-5)
        assert s.answerable_acc / 100 == pytest.approx(entry["answerable_acc_printed"], abs=5e-5)
