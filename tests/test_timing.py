"""helpers.timing: time estimates from a profile's settings, and the T4 budget they must keep."""

import pytest

from helpers.course import COURSE
from helpers.profiles import PROFILES, with_overrides
from helpers.timing import GPUS, minutes


def t4(section):
    return PROFILES["t4-16gb"].notebook(section, rehearsal=False)


def test_grpo_on_the_t4_profile_fits_45_minutes():
    assert minutes("grpo", t4("grpo"), "T4").total_minutes <= 45


@pytest.mark.parametrize("section", [e["section"] for e in COURSE if e["section"] != "setup"])
def test_every_notebook_of_the_t4_profile_fits_a_free_colab_session_with_room_to_spare(section):
    assert minutes(section, t4(section), "T4").total_minutes <= 45


def test_generation_dominates_grpo_and_grows_with_the_completion_length():
    short = minutes("grpo", with_overrides(t4("grpo"), max_completion_length=128), "T4")
    long = minutes("grpo", t4("grpo"), "T4")
    assert long.seconds_per_step > short.seconds_per_step
    assert long.parts["training"] > 10 * long.parts["evaluation"]


def test_gradient_checkpointing_costs_time_and_a_faster_card_saves_it():
    settings = with_overrides(t4("sft"), gradient_checkpointing=False)
    plain, checkpointed = minutes("sft", settings, "T4"), minutes("sft", with_overrides(settings, gradient_checkpointing=True), "T4")
    assert checkpointed.parts["training"] == pytest.approx(plain.parts["training"] * 8 / 6, rel=0.01)
    assert minutes("sft", settings, "A100").total_minutes < plain.total_minutes


def test_an_unknown_gpu_lists_the_known_ones():
    with pytest.raises(ValueError, match=str(sorted(GPUS)).replace("[", r"\[").replace("]", r"\]")):
        minutes("grpo", t4("grpo"), "H100")
