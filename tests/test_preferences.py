"""helpers.preferences: simulated labels, bad pairs dropped and counted, splits, calibration, win
rates, sampling with the ids KL needs, and reading the over-optimisation turn."""

import pytest

from helpers.preferences import (
    MIN_PAIRS,
    PreferenceDataError,
    calibration,
    clean_pairs,
    sample,
    simulated_preferences,
    split_pairs,
    turn_of_gold,
    win_rate,
)
from helpers.widgets import PreferencePanel


def pair(chosen="a ship", rejected="a ghost", prompt="The"):
    return {"prompt": prompt, "chosen": chosen, "rejected": rejected}


def test_the_simulated_annotator_prefers_the_gold_winner_flips_at_its_noise_rate_and_drops_ties():
    n = 4000
    gold_first = [0.9 if i % 2 else 0.1 for i in range(n)]
    gold_second = [0.5] * (n - 100) + [
        g + 0.01 for g in gold_first[-100:]
    ]  # the last 100: near-ties
    rows, ties = simulated_preferences(
        ["The"] * n,
        [f"first {i}" for i in range(n)],
        [f"second {i}" for i in range(n)],
        gold_first,
        gold_second,
        noise=0.1,
        tie_margin=0.05,
        seed=3,
    )
    assert ties == 100 and len(rows) == n - 100
    flipped = [r for r in rows if r["flipped"]]
    assert 0.08 < len(flipped) / len(rows) < 0.12
    assert all(
        (r["gold_margin"] < 0) == r["flipped"] for r in rows
    )  # the margin says where the annotator erred
    clean, _ = simulated_preferences(
        ["The"] * 50, ["a"] * 50, ["b"] * 50, [1.0] * 50, [0.0] * 50, noise=0.0
    )
    assert all(r["chosen"] == "a" for r in clean)
    with pytest.raises(PreferenceDataError, match="coin flips"):
        simulated_preferences(["The"], ["a"], ["b"], [1.0], [0.0], noise=0.5)


def test_identical_empty_and_incomplete_pairs_are_dropped_and_counted(capsys):
    rows = [
        pair(),
        pair("same text", "same text "),
        pair("", "a ghost"),
        pair("a ship", "   "),
        {"prompt": "The", "chosen": "a ship"},
        {"prompt": "The", "chosen": None, "rejected": "x"},
        pair("b", "c"),
    ]
    kept, dropped = clean_pairs(rows)
    assert kept == [pair(), pair("b", "c")]
    assert dropped == {"missing column": 2, "empty text": 2, "identical chosen and rejected": 1}
    assert (
        "Dropped 5 of 7 pairs: 2 missing column, 2 empty text, 1 identical chosen and rejected."
        in capsys.readouterr().out
    )
    assert clean_pairs([pair()]) == (
        [pair()],
        {"missing column": 0, "empty text": 0, "identical chosen and rejected": 0},
    )


def test_a_set_too_small_to_split_names_the_minimum():
    rows = [pair(f"c{i}", f"r{i}") for i in range(15)]
    with pytest.raises(
        PreferenceDataError, match=r"15 usable preference pairs are too few .* at least 50"
    ):
        split_pairs(rows, held_out=0.2)
    train, test = split_pairs(
        [pair(f"c{i}", f"r{i}") for i in range(MIN_PAIRS * 5)], held_out=0.2, seed=1
    )
    assert (len(train), len(test)) == (80, 20) and not {r["chosen"] for r in train} & {
        r["chosen"] for r in test
    }
    with pytest.raises(PreferenceDataError, match="fraction"):
        split_pairs(rows, held_out=1.0)


def test_calibration_bins_predictions_and_counts_outcomes():
    table = calibration([0.05, 0.15, 0.9, 0.95, 1.0], [False, True, True, True, False], bins=5)
    assert [row["bin"] for row in table] == ["0.0-0.2", "0.8-1.0"]
    assert (
        table[0]["observed"] == 0.5
        and table[1]["pairs"] == 3
        and table[1]["observed"] == pytest.approx(2 / 3)
    )


def test_win_rate_counts_ties_as_half_and_gives_an_interval():
    result = win_rate([1.0, 0.5, 0.2, 0.9], [0.0, 0.5, 0.3, 0.1])
    assert result["win_rate"] == 0.625 and result["n"] == 4
    low, high = result["ci95"]
    assert 0 < low < 0.625 < high < 1
    with pytest.raises(ValueError):
        win_rate([1.0], [])


def test_the_turn_of_gold_is_read_from_the_checkpoints():
    points = [
        {"kl": 0, "proxy": 0.0, "gold": 0.1},
        {"kl": 5, "proxy": 1.0, "gold": 0.8},
        {"kl": 20, "proxy": 1.5, "gold": 0.4},
    ]
    assert turn_of_gold(points) == {
        "peak_checkpoint": 1,
        "checkpoints": 3,
        "kl_at_peak": 5,
        "gold_at_peak": 0.8,
        "gold_fell_after_peak": 0.4,
        "proxy_rose_after_peak": 0.5,
        "turned": True,
    }
    assert (
        turn_of_gold(points[:2])["gold_fell_after_peak"] == 0
        and not turn_of_gold(points[:2])["turned"]
    )
    both_fell = points[:2] + [
        {"kl": 20, "proxy": 0.9, "gold": 0.4}
    ]  # the proxy fell too: not over-optimisation
    assert not turn_of_gold(both_fell)["turned"]


def test_samples_keep_the_ids_that_score_them_again_and_stop_at_the_end_of_text():
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from helpers import tiny
    from helpers.preferences import kl_per_text

    folder = tiny.build("tiny-gpt2")
    model, tokenizer = (
        AutoModelForCausalLM.from_pretrained(folder),
        AutoTokenizer.from_pretrained(folder),
    )
    tokenizer.pad_token = tokenizer.eos_token
    with torch.no_grad():  # make the end-of-text likely, so that some samples stop early
        model.lm_head.weight[tokenizer.eos_token_id] += 0.5 * model.lm_head.weight.abs().mean()
    samples = sample(
        model, tokenizer, ["The", "At last", "Then"] * 4, max_new_tokens=6, batch_size=5, seed=0
    )
    assert samples.completion_ids.shape == (12, 6) and samples.prompt_ids.shape[0] == 12
    assert samples.texts[1].startswith("At last")
    again = sample(
        model, tokenizer, ["The", "At last", "Then"] * 4, max_new_tokens=6, batch_size=5, seed=0
    )
    assert again.completions == samples.completions  # the seed decides
    for ids, mask in zip(samples.completion_ids.tolist(), samples.completion_mask.tolist()):
        if tokenizer.eos_token_id in ids:
            end = ids.index(tokenizer.eos_token_id)
            assert mask == [1] * (end + 1) + [0] * (len(ids) - end - 1)
    assert kl_per_text(model, model, samples) == pytest.approx(
        [0.0] * 12
    )  # a policy against itself


def test_the_labelling_panel_turns_clicks_into_preference_rows():
    rows = [pair("a ship", "a ghost"), pair("a rose", "a star")]
    panel = PreferencePanel(
        rows, gold=lambda texts: [float("ship" in t or "star" in t) for t in texts], seed=0
    )
    assert panel.labelled() == []
    for index, (_, first, _) in enumerate(panel.pairs):
        panel.choose(
            index, first_wins=first in ("a ship", "a rose")
        )  # agree, then disagree, with gold
    labelled = panel.labelled()
    assert [(r["chosen"], r["rejected"], r["flipped"]) for r in labelled] == [
        ("a ship", "a ghost", False),
        ("a rose", "a star", True),
    ]
