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


def test_tiny_profile_uses_only_models_it_has_offline():
    """Tiny models built locally, or real ones a package ships (the real MiniLM of 03's reward)."""
    from helpers.models import PACKAGED_MODELS

    model_keys = (
        "model_id",
        "policy_model",
        "small_policy_model",
        "classifier_model",
        "reward_model",
    )
    for section in profiles.NOTEBOOK_SECTIONS:
        settings = vars(profiles.get_profile("tiny").notebook(section))
        for key in model_keys:
            if key in settings and settings[key] != "sft_checkpoint":
                assert settings[key] in {**tiny.TINY_MODELS, **PACKAGED_MODELS}, (
                    f"{section}.{key} = {settings[key]}"
                )


@pytest.mark.parametrize("name", list(profiles.PROFILES))
def test_grpo_generation_batch_divides_into_groups(name):
    grpo = profiles.get_profile(name).notebook("grpo")
    generation_batch = grpo.per_device_train_batch_size * grpo.gradient_accumulation_steps
    assert generation_batch % grpo.num_generations == 0


def test_unknown_profile_lists_the_valid_ones():
    with pytest.raises(profiles.ProfileError) as caught:
        profiles.get_profile("huge")
    assert "auto, tiny, cpu, rtx2080ti-11gb, t4-16gb, a100-40gb" in str(caught.value)


def test_unknown_section_is_named():
    with pytest.raises(KeyError, match="dpo"):
        profiles.get_profile("tiny").notebook("dpo")


def test_profile_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("RLHF_PROFILE", "t4-16gb")
    assert profiles.get_profile().name == "t4-16gb"


@pytest.mark.parametrize(
    ("gpu_memory_gb", "expected"),
    [
        (11.0, "rtx2080ti-11gb"),
        (12.0, "rtx2080ti-11gb"),
        (15.0, "t4-16gb"),
        (24.0, "t4-16gb"),
        (40.0, "a100-40gb"),
        (80.0, "a100-40gb"),
    ],
)
def test_auto_picks_the_largest_profile_that_fits(gpu_memory_gb, expected):
    assert profiles.pick_profile_for_gpu(gpu_memory_gb) == expected


def test_auto_without_a_gpu_picks_cpu_and_says_how_long_it_takes(monkeypatch, capsys):
    from helpers import env

    monkeypatch.setattr(
        env, "device_report", lambda: {"device": "cpu", "gpu_memory_gb": None, "gpu_name": None}
    )
    assert profiles.get_profile("auto").name == "cpu"
    said = capsys.readouterr().out
    assert "profile 'cpu'" in said and "04 ~" in said and "profile='tiny'" in said


def test_auto_on_a_t4(monkeypatch):
    from helpers import env

    monkeypatch.setattr(
        env,
        "device_report",
        lambda: {"device": "cuda", "gpu_memory_gb": 14.7, "gpu_name": "Tesla T4"},
    )
    assert profiles.get_profile("auto").name == "t4-16gb"


def test_too_small_a_gpu_says_so():
    with pytest.raises(profiles.ProfileError, match="6.0 GB"):
        profiles.pick_profile_for_gpu(6.0)


def test_overrides_replace_only_what_is_set():
    settings = profiles.with_overrides(
        profiles.get_profile("tiny").notebook("grpo"), lora=True, beta=None
    )
    assert settings.lora is True
    assert settings.beta == profiles.get_profile("tiny").notebook("grpo").beta


def test_an_unknown_override_is_named():
    with pytest.raises(KeyError, match="lora_rank"):
        profiles.with_overrides(profiles.get_profile("tiny").notebook("grpo"), lora_rank=8)


@pytest.mark.parametrize(
    ("batch", "accumulation", "group", "processes", "prompts"),
    [(1, 8, 8, 1, 1), (16, 1, 8, 1, 2), (4, 1, 4, 2, 2), (8, 2, 8, 1, 2)],
)
def test_grpo_batch_that_holds_whole_groups(batch, accumulation, group, processes, prompts):
    assert profiles.check_grpo_batch(batch, accumulation, group, processes) == prompts


def test_grpo_batch_that_splits_a_group_explains_the_arithmetic():
    with pytest.raises(ValueError) as caught:
        profiles.check_grpo_batch(1, 4, 8)
    message = str(caught.value)
    assert "1 × 4 × 1 = 4 completions, which is not a multiple of 8" in message
    assert "multiply gradient_accumulation_steps (or the batch size) by 2" in message
    assert "[2, 4]" in message


@pytest.mark.parametrize("bad", [0, -1, 1.5, None])
def test_grpo_batch_rejects_sizes_that_are_not_positive_whole_numbers(bad):
    with pytest.raises(ValueError, match="whole number"):
        profiles.check_grpo_batch(bad, 1, 8)


def test_grpo_needs_a_group_of_two_or_more():
    with pytest.raises(ValueError, match="at least 2"):
        profiles.check_grpo_batch(8, 1, 1)


@pytest.mark.parametrize("name", sorted(profiles.PROFILES))
def test_a_warm_start_asked_for_trains_on_every_profile(name):
    """Defect: the GPU profiles had warm_start_epochs=0, so warm_start_examples was silently
    ignored."""
    from helpers.profiles import check_warm_start, with_overrides

    check_warm_start(
        with_overrides(
            profiles.PROFILES[name].notebook("grpo", rehearsal=False), warm_start_examples=64
        )
    )
    with pytest.raises(ValueError, match="warm_start_epochs=0"):
        check_warm_start(
            with_overrides(
                profiles.PROFILES[name].notebook("grpo", rehearsal=False),
                warm_start_examples=64,
                warm_start_epochs=0,
            )
        )


@pytest.mark.parametrize("name", ["t4-16gb", "rtx2080ti-11gb", "a100-40gb"])
def test_grpo_completions_have_room_for_a_real_qwen_answer(name):
    """Qwen2.5-0.5B-Instruct's GSM8K answers: median ~274 tokens, 57% cut at 256 (TRL issue
    6263)."""
    assert profiles.PROFILES[name].notebook("grpo", rehearsal=False).max_completion_length >= 512
