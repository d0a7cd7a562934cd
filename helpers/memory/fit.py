"""Will a notebook fit this GPU, and if not, what to change: cheapest in quality first.

recommend(11, "grpo")             # the steps that make notebook 04 fit an 11 GB card
notebook_estimate("sft", get_profile("t4-16gb").notebook("sft"))
profile_memory()                  # each training step on each GPU profile, for notebook 00
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace

from helpers.env import cpu_native_bf16, headless
from helpers.lessons import COURSE, LessonError
from helpers.memory.estimate import GB, MemoryEstimate, MemoryInputError, Step, estimate
from helpers.profiles import PROFILES

# Typical prompt lengths in tokens on the real profiles: a GSM8K question is 80-120 GPT-2 tokens;
# Qwen's chat template and the system prompt add ~80; notebook 01's genre prompts are a few words.
GPU_CLASSES = {"RTX 2080 Ti 11 GB": 11, "T4 16 GB": 16, "A100 40 GB": 40, "A100 80 GB": 80}
# A card never gives all its memory to tensors: the CUDA context (~0.5 GB) and the caching
# allocator's fragmentation (~10%) come first.
CUDA_CONTEXT_GB, ALLOCATOR_SLACK = 0.5, 0.10


def usable_gb(gpu_memory_gb: float) -> float:
    """What tensors can have of a card of this size."""
    if not isinstance(gpu_memory_gb, (int, float)) or gpu_memory_gb <= 0:
        raise MemoryInputError(
            f"gpu_memory_gb must be a positive number of GB, not {gpu_memory_gb!r}."
        )
    return gpu_memory_gb * (1 - ALLOCATOR_SLACK) - CUDA_CONTEXT_GB


# ----- one training step per shape: settings, device, prompt tokens, model id override
# --------------


def _sft(s, device, prompt, model):
    return estimate(
        Step(
            "sft",
            model or s.model_id,
            batch_size=s.batch_size,
            seq_len=s.max_length,
            precision=s.precision,
            device=device,
            gradient_checkpointing=s.gradient_checkpointing,
            attention_dropout=True,
            optimizer=getattr(s, "optimizer", None) or "adamw_fused",
            logits="chunked",
            gradient_accumulation_steps=getattr(s, "gradient_accumulation_steps", 1),
        )
    )


def _genre_step(s, device, prompt, model, **step):
    """Notebook 01's steps: GPT-2 in fp32 with plain torch Adam, the classifier beside it."""
    return estimate(
        Step(
            "ppo",
            model or s.policy_model,
            prompt_len=prompt,
            completion_len=s.max_new_tokens,
            frozen_models=(s.classifier_model,),
            device=device,
            optimizer="adamw",
            attention_dropout=True,
            **step,
        )
    )


def _genre_ppo(s, device, prompt, model):
    """Notebook 01's PPO: TRL 0.11 generates 4 prompts at a time, trains on mini-batches."""
    return _genre_step(
        s, device, prompt, model, batch_size=s.mini_batch_size, generation_batch=4, reference="copy"
    )


def _reinforce(s, device, prompt, model):
    """Notebook 01's REINFORCE (section 4): the whole batch generated and scored at once with full
    logits; no value head, no reference."""
    return _genre_step(
        s,
        device,
        prompt,
        model,
        batch_size=s.batch_size,
        generation_batch=s.batch_size,
        value_head=False,
    )


def _ppo_sft(s, device, prompt, model):
    """Notebook 03: the encoder in 16 bits on a GPU (and a CPU with bf16 instructions,
    PrecisionPlan.scorer), the reference fp32; LoRA's: its base."""
    scorer = "16-bit" if device == "cuda" or cpu_native_bf16() else "fp32"
    policy = model or ("gpt2" if s.policy_model == "sft_checkpoint" else s.policy_model)
    return estimate(
        Step(
            "ppo",
            policy,
            batch_size=s.mini_batch_size,
            generation_batch=s.mini_batch_size,
            prompt_len=prompt,
            completion_len=s.max_new_tokens,
            device=device,
            optimizer="adamw",
            reference="adapters-off" if s.lora else "copy",
            lora_rank=16 if s.lora else None,
            weights=("16-bit" if device == "cuda" else "fp32") if s.lora else "fp32",
            frozen_models=(s.reward_model,),
            frozen_weights=scorer,
            reference_weights="fp32",
        )
    )


def _grpo(s, device, prompt, model):
    """Notebook 04: one generation batch = batch x accumulation completions."""
    lora = s.lora or s.load_in_4bit
    weights = ("4-bit" if s.load_in_4bit else "16-bit") if lora and device == "cuda" else "fp32"
    return estimate(
        Step(
            "grpo",
            model or s.model_id,
            batch_size=s.per_device_train_batch_size,
            generation_batch=s.per_device_train_batch_size * s.gradient_accumulation_steps,
            prompt_len=prompt,
            completion_len=s.max_completion_length,
            precision=s.precision,
            device=device,
            weights=weights,
            lora_rank=16 if lora else None,
            lora_targets="all-linear",
            gradient_checkpointing=s.gradient_checkpointing,
            optimizer=getattr(s, "optimizer", None) or "adamw_fused",
            reference=None if not s.beta else ("adapters-off" if lora else "copy"),
            logits="chunked",
            gradient_accumulation_steps=getattr(s, "gradient_accumulation_steps", 1),
        )
    )


def _genre_rloo(s, device, prompt, model):
    """Notebook 05: GRPO's memory pattern, plus notebook 01's classifier."""
    return estimate(
        Step(
            "grpo",
            model or s.policy_model,
            batch_size=s.per_device_train_batch_size,
            generation_batch=s.generation_batch_size,
            prompt_len=prompt,
            completion_len=s.max_completion_length,
            precision=s.precision,
            device=device,
            reference="copy" if s.beta else None,
            frozen_models=(s.classifier_model,),
            optimizer=getattr(s, "optimizer", None) or "adamw_fused",
            logits="chunked",
        )
    )


# Notebook 06 frees each phase before the next. On the device throughout: the gold classifier and
# `reference` (the starting policy, for sampling and KL); the reward model from its training on;
# finished policies move to the CPU. A text is the prompt, the completion and the end-of-text TRL
# appends.
def _preference_models(s, model):
    policy = model or s.policy_model
    return policy, (s.classifier_model, ("notebook's reference", policy)), ("reward model", policy)


def _reward_model(s, device, prompt, model):
    """Chosen and rejected in one batch, a one-number head."""
    policy, on_device, _ = _preference_models(s, model)
    return estimate(
        Step(
            "sft",
            policy,
            batch_size=2 * s.reward_batch_size,
            seq_len=prompt + s.max_new_tokens + 1,
            precision=s.precision,
            device=device,
            frozen_models=on_device,
            logits="none",
            optimizer=getattr(s, "optimizer", None) or "adamw_fused",
        )
    )


def _dpo(s, device, prompt, model):
    """Chosen and rejected in one batch; `reference`, lent as ref_model, scores them."""
    policy, (classifier, _), reward_model = _preference_models(s, model)
    return estimate(
        Step(
            "sft",
            policy,
            batch_size=2 * s.dpo_batch_size,
            seq_len=prompt + s.max_new_tokens + 1,
            precision=s.precision,
            device=device,
            reference="copy",
            frozen_models=(classifier, reward_model),
            logits="chunked",
            optimizer=getattr(s, "optimizer", None) or "adamw_fused",
        )
    )


def _pref_rloo(s, device, prompt, model):
    """RLOOTrainer takes no ref_model: with beta > 0 it loads a copy of its own, next to
    `reference`."""
    policy, on_device, reward_model = _preference_models(s, model)
    return estimate(
        Step(
            "grpo",
            policy,
            batch_size=s.per_device_train_batch_size,
            generation_batch=s.generation_batch_size,
            prompt_len=prompt,
            completion_len=s.max_new_tokens,
            precision=s.precision,
            device=device,
            reference="copy" if s.rl_beta else None,
            optimizer=getattr(s, "optimizer", None) or "adamw_fused",
            frozen_models=(on_device[0], reward_model, on_device[1]),
            logits="chunked",
        )
    )


STEPS = {
    "sft": _sft,
    "reinforce": _reinforce,
    "genre_ppo": _genre_ppo,
    "ppo_sft": _ppo_sft,
    "grpo": _grpo,
    "genre_rloo": _genre_rloo,
    "reward_model": _reward_model,
    "dpo": _dpo,
    "pref_rloo": _pref_rloo,
}
# From the lessons' ``memory`` shapes: each step's label, and the profile section it reads.
SECTIONS = {step: label for lesson in COURSE for step, label in lesson.get("memory", {}).items()}
PROFILE_SECTION = {
    step: lesson["section"] for lesson in COURSE for step in lesson.get("memory", {})
}


def check_memory_steps(lessons: list[dict]) -> None:
    """Every step of every lesson's ``memory`` a step above, or a LessonError naming the record."""
    for lesson in lessons:
        unknown = sorted(set(lesson.get("memory", {})) - set(STEPS))
        if unknown:
            raise LessonError(
                f"Lesson {lesson['notebook']!r}: no memory step {unknown} in helpers.memory.fit; "
                f"it has {sorted(STEPS)}."
            )


check_memory_steps(COURSE)


def notebook_estimate(
    section: str,
    settings: SimpleNamespace,
    device: str = "cuda",
    prompt_len: int | None = None,
    model=None,
) -> MemoryEstimate:
    """The estimate for one notebook's settings (a profile section, as the notebook uses it), or for
    one of its training steps (06's "reward_model", "dpo", "pref_rloo"): the largest of its
    lesson's ``memory`` steps.

    ``model`` overrides the model id (a folder, for tiny models or notebook 02's checkpoint). A
    section's ``gradient_accumulation_steps`` (1 where it has none) counts the gradients kept across
    micro-batches."""
    read = PROFILE_SECTION.get(section, section)  # 06's steps: its settings, its prompts
    lesson = next((lesson for lesson in COURSE if lesson["section"] == read), {})
    steps = [section] if section in STEPS else list(lesson.get("memory", {}))
    if not steps:
        raise MemoryInputError(
            f"No memory estimate for section {section!r}; training sections: {sorted(SECTIONS)}."
        )
    prompt = prompt_len or lesson.get("prompt_tokens", 0)
    estimates = [STEPS[step](settings, device, prompt, model) for step in steps]
    return max(estimates, key=lambda step_estimate: step_estimate.bytes)


def lesson_estimate(
    section: str, settings: SimpleNamespace, device: str = "cuda"
) -> MemoryEstimate:
    """The largest estimate of all a lesson's training steps (01: REINFORCE and PPO; 06: three),
    the figure under its title; ``notebook_estimate`` gives one step's."""
    lesson = next(lesson for lesson in COURSE if lesson["section"] == section)
    estimates = [notebook_estimate(step, settings, device) for step in lesson["memory"]]
    return max(estimates, key=lambda step_estimate: step_estimate.bytes)


def _halve(key: str, keep_product_with: str | None = None):
    def change(s):
        if getattr(s, key) <= 1:
            return None
        extra = {keep_product_with: getattr(s, keep_product_with) * 2} if keep_product_with else {}
        return {key: getattr(s, key) // 2, **extra}

    return change


def _set(**values):
    return lambda s: None if all(getattr(s, k, None) == v for k, v in values.items()) else values


# Per notebook: (what to do, what it costs), cheapest first. A change repeats while it applies.
OPTIONS = {
    "sft": [
        ("gradient checkpointing", "same result, ~30% slower", _set(gradient_checkpointing=True)),
        (
            "halve batch_size, double gradient_accumulation_steps",
            "same effective batch, slower",
            _halve("batch_size", "gradient_accumulation_steps"),
        ),
        (
            '8-bit AdamW (add optim="adamw_bnb_8bit" to the config; needs bitsandbytes)',
            "tiny quality cost",
            _set(optimizer="adamw_8bit"),
        ),
        ("max_length 384", "truncates the few longest solutions", _set(max_length=384)),
        (
            "distilgpt2 instead of GPT-2",
            "a smaller model: lower accuracy",
            _set(model_id="distilgpt2"),
        ),
    ],
    "reinforce": [
        ("halve batch_size", "fewer texts per step: a noisier gradient", _halve("batch_size")),
        ("max_new_tokens 24", "shorter texts to judge", _set(max_new_tokens=24)),
    ],
    "genre_ppo": [
        (
            "halve mini_batch_size",
            "same data per PPO step, more and smaller updates",
            _halve("mini_batch_size"),
        ),
        ("max_new_tokens 24", "shorter texts to judge", _set(max_new_tokens=24)),
        ("distilgpt2 policy", "a smaller model: plainer text", _set(policy_model="distilgpt2")),
    ],
    "ppo_sft": [
        (
            "halve mini_batch_size",
            "same data per PPO step, more and smaller updates",
            _halve("mini_batch_size"),
        ),
        (
            "lora = True",
            "adapters learn a little less; the reference is the base with adapters off",
            _set(lora=True),
        ),
        ("max_new_tokens 96", "cuts the longest solutions", _set(max_new_tokens=96)),
        (
            "distilgpt2 policy (run 02 with model_id='distilgpt2')",
            "a smaller model: lower accuracy",
            _set(policy_model="distilgpt2"),
        ),
    ],
    "genre_rloo": [
        (
            "halve per_device_train_batch_size",
            "fewer prompts per step (keep a multiple of num_generations)",
            _halve("per_device_train_batch_size"),
        ),
        ("max_completion_length 24", "shorter texts to judge", _set(max_completion_length=24)),
        ("distilgpt2 policy", "a smaller model: plainer text", _set(policy_model="distilgpt2")),
    ],
    "reward_model": [
        (
            "halve reward_batch_size",
            "fewer pairs per step: noisier steps",
            _halve("reward_batch_size"),
        ),
        ("max_new_tokens 24", "shorter texts to compare", _set(max_new_tokens=24)),
        (
            "distilgpt2 policy and reward model",
            "a smaller model: plainer text",
            _set(policy_model="distilgpt2"),
        ),
    ],
    "dpo": [
        ("halve dpo_batch_size", "fewer pairs per step: noisier steps", _halve("dpo_batch_size")),
        ("max_new_tokens 24", "shorter texts to compare", _set(max_new_tokens=24)),
        ("distilgpt2 policy", "a smaller model: plainer text", _set(policy_model="distilgpt2")),
    ],
    "pref_rloo": [
        (
            "halve per_device_train_batch_size",
            "fewer texts per update (keep a multiple of num_generations)",
            _halve("per_device_train_batch_size"),
        ),
        ("max_new_tokens 24", "shorter texts to judge", _set(max_new_tokens=24)),
        ("distilgpt2 policy", "a smaller model: plainer text", _set(policy_model="distilgpt2")),
    ],
    "grpo": [
        ("gradient checkpointing", "same result, ~30% slower", _set(gradient_checkpointing=True)),
        (
            "halve per_device_train_batch_size, double gradient_accumulation_steps",
            "same effective batch, slower",
            _halve("per_device_train_batch_size", "gradient_accumulation_steps"),
        ),
        ("lora = True", "adapters learn a little less", _set(lora=True)),
        (
            "load_in_4bit = True (QLoRA)",
            "small quality cost; needs bitsandbytes",
            _set(load_in_4bit=True),
        ),
        (
            '8-bit AdamW (add optim="adamw_bnb_8bit" to the config; needs bitsandbytes)',
            "tiny quality cost",
            _set(optimizer="adamw_8bit"),
        ),
        ("max_completion_length 128", "long reasoning gets cut", _set(max_completion_length=128)),
    ],
}


@dataclass
class Recommendation:
    gpu_memory_gb: float
    section: str
    fits: bool
    steps: list = field(default_factory=list)  # (change, cost, estimated GB after it)
    changed: dict = field(default_factory=dict)  # setting -> new value
    settings: SimpleNamespace | None = None
    estimate: MemoryEstimate | None = None
    message: str = ""

    def __str__(self) -> str:
        return self.message


def recommend(
    gpu_memory_gb: float, step: str, settings: SimpleNamespace | None = None
) -> Recommendation:
    """Settings of a notebook's training ``step`` that fit the GPU: a memory step of a lesson
    (``SECTIONS``: "sft", "genre_ppo", "ppo_sft", "grpo", "genre_rloo", and 06's "reward_model",
    "dpo", "pref_rloo").

    Starts from ``settings`` (default: the 40-80 GB profile, the best quality) and applies the
    changes in OPTIONS in order, each as often as it helps, until the estimate fits."""
    budget = usable_gb(gpu_memory_gb)
    if step not in OPTIONS:
        raise MemoryInputError(f"step must be one of {sorted(OPTIONS)}, not {step!r}.")
    current = settings or PROFILES["a100-40gb"].notebook(
        PROFILE_SECTION.get(step, step), rehearsal=False
    )
    current = SimpleNamespace(**{"optimizer": None, **vars(current)})
    est = notebook_estimate(step, current)
    start, steps = vars(current), []
    for change, cost, apply in OPTIONS[step]:
        while est.gb > budget and (values := apply(current)) is not None:
            trial = SimpleNamespace(**{**vars(current), **values})
            trial_estimate = notebook_estimate(step, trial)
            if trial_estimate.bytes >= est.bytes:  # no longer helps (another phase is the peak)
                break
            current, est = trial, trial_estimate
            if steps and steps[-1][0] == change:
                steps.pop()
            steps.append((change, cost, round(est.gb, 2)))
    changed = {k: v for k, v in vars(current).items() if start.get(k) != v}
    fits = est.gb <= budget
    name = SECTIONS[step]
    if fits and not steps:
        message = (
            f"{name} fits a {gpu_memory_gb:g} GB GPU as it is: ~{est.gb:.1f} GB of "
            f"{budget:.1f} GB usable."
        )
    elif fits:
        listed = "\n".join(
            f"  {i}. {change} ({cost}) -> ~{gb} GB" for i, (change, cost, gb) in enumerate(steps, 1)
        )
        message = (
            f"{name} fits a {gpu_memory_gb:g} GB GPU ({budget:.1f} GB usable) with, in "
            f"this order:\n{listed}\nSettings: {_settings_text(changed)}"
        )
    else:
        message = (
            f"{name} does not fit a {gpu_memory_gb:g} GB GPU: even with every memory "
            f"option it needs ~{est.gb:.1f} GB and only {budget:.1f} GB is usable. Use "
            "profile='tiny' to learn the method on a CPU, or a bigger GPU (a free Colab "
            "T4 has 16 GB)."
        )
    return Recommendation(
        gpu_memory_gb, step, fits, steps, changed, current if fits else None, est, message
    )


def _settings_text(changed: dict) -> str:
    """The changed settings as a student writes them (the 8-bit optimizer under Trainer's name)."""
    return ", ".join(
        "optim='adamw_bnb_8bit'" if k == "optimizer" else f"{k}={v!r}" for k, v in changed.items()
    )


# The real profiles, by card, and the settings that move a step's memory
PROFILE_CARDS = {
    "rtx2080ti-11gb": "11 GB profile (RTX 2080 Ti)",
    "t4-16gb": "T4 profile (16 GB)",
    "a100-40gb": "A100 profile (40-80 GB)",
}
MEMORY_SETTINGS = (
    "precision",
    "lora",
    "load_in_4bit",
    "gradient_checkpointing",
    "batch_size",
    "mini_batch_size",
    "per_device_train_batch_size",
    "gradient_accumulation_steps",
    "generation_batch_size",
    "num_generations",
    "reward_batch_size",
    "dpo_batch_size",
    "max_length",
    "max_completion_length",
    "max_new_tokens",
)


def profile_memory() -> list[dict]:
    """One row per training step, one column per GPU profile: the estimated peak of the settings
    that profile runs (the figure under each notebook's title, one source), and what they change
    from the A100 profile's to fit the card."""
    rows = []
    for step, label in SECTIONS.items():
        section = PROFILE_SECTION[step]
        best = vars(PROFILES["a100-40gb"].notebook(section, rehearsal=False))
        row = {"training step": label}
        for name, column in PROFILE_CARDS.items():
            settings = PROFILES[name].notebook(section, rehearsal=False)
            changed = {
                key: value
                for key, value in vars(settings).items()
                if key in MEMORY_SETTINGS and best.get(key) != value
            }
            text = f"~{notebook_estimate(step, settings).gb:.1f} GB"
            row[column] = text + (f" with {_settings_text(changed)}" if changed else "")
        rows.append(row)
    return rows


def picker():
    """An ipywidgets panel: pick a notebook and a GPU, see the advice and the breakdown chart.

    In a headless run (``helpers.env.headless()``) it draws the default choice once and returns
    None."""
    import ipywidgets as widgets
    import matplotlib.pyplot as plt

    notebook = widgets.Dropdown(
        options=[(name, s) for s, name in SECTIONS.items()], description="notebook"
    )
    gpu = widgets.Dropdown(options=list(GPU_CLASSES.items()), value=16, description="GPU")

    def show(notebook: str, gpu_memory_gb: float):
        advice = recommend(gpu_memory_gb, notebook)
        print(advice.message)
        ax = advice.estimate.plot(
            title=f"{SECTIONS[notebook]} on {gpu_memory_gb:g} GB: ~{advice.estimate.gb:.1f} GB"
        )
        ax.axvline(
            usable_gb(gpu_memory_gb), color="tab:red", linestyle="--", label="usable GPU memory"
        )
        ax.legend(loc="lower right")
        plt.show()
        return advice

    if headless():
        print("(headless run: the panel's default choice, drawn once; in Jupyter you pick)")
        show(notebook.value, gpu.value)
        return None
    return widgets.interactive(show, notebook=notebook, gpu_memory_gb=gpu)


def report_memory(est: MemoryEstimate, peak=None) -> dict:
    """Print the estimate next to the measured peak (a PeakMemory, or None); return both for
    metrics.json."""
    block = {
        "estimate_gb": round(est.gb, 4),
        "estimate_phase": est.phase,
        "estimate_parts_gb": {name: round(value / GB, 4) for name, value in est.parts.items()},
    }
    if peak is None or not peak.bytes:
        print(f"Estimated peak: {est.gb:.3f} GB ({est.phase}); not measured in this run.")
        return block
    block.update(
        measured_gb=round(peak.gb, 4),
        measured_as=peak.how,
        estimate_over_measured=round(est.bytes / peak.bytes, 3),
    )
    print(
        f"Estimated peak: {est.gb:.3f} GB ({est.phase})   measured: {peak.gb:.3f} GB "
        f"({peak.how})   estimate/measured = {est.bytes / peak.bytes:.2f}"
    )
    return block
