"""helpers.ranges: an exercise parameter out of range stops in the settings cell, with its name and
its range; every profile's own settings are in range."""

import pytest

from helpers import profiles
from helpers.ranges import RANGES, check_settings


@pytest.mark.parametrize("name", sorted(profiles.PROFILES))
@pytest.mark.parametrize("rehearsal", [False, True])
def test_every_profile_setting_is_in_range(name, rehearsal):
    profile = profiles.PROFILES[name]
    for section in profiles.NOTEBOOK_SECTIONS:
        check_settings(vars(profile.notebook(section, rehearsal=rehearsal)))


@pytest.mark.parametrize(
    ("section", "override", "says"),
    [
        (
            "genre_ppo",
            {"init_kl_coef": -0.1},
            "init_kl_coef = -0.1 is out of range: a number, at least 0",
        ),
        (
            "genre_ppo",
            {"reinforce_learning_rate": 0},
            "reinforce_learning_rate = 0 is out of range: a number, above 0 and below 1",
        ),
        ("grpo", {"beta": -1}, "beta = -1 is out of range"),
        (
            "grpo",
            {"num_generations": 1},
            "num_generations = 1 is out of range: a whole number, at least 2",
        ),
        ("genre_rloo", {"num_generations": 2.5}, "a whole number"),
        (
            "preferences",
            {"annotator_noise": 0.5},
            "annotator_noise = 0.5 is out of range: a number, at least 0 "
            r"and below 0.5 \(at 0.5 every label is a coin toss\)",
        ),
        ("preferences", {"dpo_beta": 0}, "dpo_beta = 0 is out of range"),
        ("ppo_sft", {"similarity_weight": 1.5}, "at most 1"),
        ("ppo_sft", {"ppo_steps": 0}, "ppo_steps = 0 is out of range: a whole number, at least 1"),
        (
            "genre_rloo",
            {"num_generations": 3},
            r"num_generations = 3 must divide generation_batch_size = 16: "
            r"pick one of \[2, 4, 8, 16\]",
        ),
        ("ppo_sft", {"batch_size": 18}, "must divide batch_size = 18"),
    ],
)
def test_an_out_of_range_parameter_is_named_with_its_range(section, override, says):
    settings = profiles.get_profile("tiny").notebook(section)
    with pytest.raises(ValueError, match=says):
        profiles.with_overrides(settings, **override)


def test_a_string_where_a_number_belongs_is_out_of_range():
    with pytest.raises(ValueError, match="beta = '0.1'"):
        check_settings({"beta": "0.1"})


def test_every_range_names_a_real_setting():
    known = {
        key
        for p in profiles.PROFILES.values()
        for section in p.notebooks.values()
        for key in section
    }
    assert set(RANGES) <= known, sorted(set(RANGES) - known)
