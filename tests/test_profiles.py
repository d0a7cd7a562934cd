"""helpers.profiles: profiles are complete, consistent data, and 'auto' explains itself."""

import pytest

from helpers import profiles, tiny


@pytest.mark.parametrize("name", list(profiles.PROFILES))
def test_every_profile_has_every_notebook_section(name):
    profile = profiles.get_profile(name)
    for section in profiles.NOTEBOOK_SECTIONS:
        settings = profile.notebook(section)
        assert settings.profile == name


def test_same_settings_for_a_notebook_in_every_profile():
    for section in profiles.NOTEBOOK_SECTIONS:
        keys = {frozenset(vars(p.notebook(section))) for p in profiles.PROFILES.values()}
        assert len(keys) == 1, f"profiles disagree on the settings of {section}"


def test_tiny_profile_uses_only_tiny_models():
    model_keys = ("model_id", "policy_model", "small_policy_model", "classifier_model", "reward_model")
    for section in profiles.NOTEBOOK_SECTIONS:
        settings = vars(profiles.get_profile("tiny").notebook(section))
        for key in model_keys:
            if key in settings and settings[key] != "sft_checkpoint":
                assert settings[key] in tiny.TINY_MODELS, f"{section}.{key} = {settings[key]}"


@pytest.mark.parametrize("name", list(profiles.PROFILES))
def test_grpo_generation_batch_divides_into_groups(name):
    grpo = profiles.get_profile(name).notebook("grpo")
    generation_batch = grpo.per_device_train_batch_size * grpo.gradient_accumulation_steps
    assert generation_batch % grpo.num_generations == 0


def test_unknown_profile_lists_the_valid_ones():
    with pytest.raises(profiles.ProfileError) as caught:
        profiles.get_profile("huge")
    assert "auto, tiny, rtx2080ti-11gb, t4-16gb, a100-40gb" in str(caught.value)


def test_unknown_section_is_named():
    with pytest.raises(KeyError, match="dpo"):
        profiles.get_profile("tiny").notebook("dpo")


def test_profile_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("RLHF_PROFILE", "t4-16gb")
    assert profiles.get_profile().name == "t4-16gb"


@pytest.mark.parametrize(
    ("gpu_memory_gb", "expected"),
    [(11.0, "rtx2080ti-11gb"), (12.0, "rtx2080ti-11gb"), (15.0, "t4-16gb"), (24.0, "t4-16gb"), (40.0, "a100-40gb"), (80.0, "a100-40gb")],
)
def test_auto_picks_the_largest_profile_that_fits(gpu_memory_gb, expected):
    assert profiles.pick_profile_for_gpu(gpu_memory_gb) == expected


def test_auto_without_a_gpu_offers_tiny(monkeypatch):
    from helpers import env

    monkeypatch.setattr(env, "device_report", lambda: {"device": "cpu", "gpu_memory_gb": None, "gpu_name": None})
    with pytest.raises(profiles.ProfileError, match="profile='tiny'"):
        profiles.get_profile("auto")


def test_auto_on_a_t4(monkeypatch):
    from helpers import env

    monkeypatch.setattr(env, "device_report", lambda: {"device": "cuda", "gpu_memory_gb": 14.7, "gpu_name": "Tesla T4"})
    assert profiles.get_profile("auto").name == "t4-16gb"


def test_too_small_a_gpu_says_so():
    with pytest.raises(profiles.ProfileError, match="6.0 GB"):
        profiles.pick_profile_for_gpu(6.0)
