"""The course's lessons: one record per notebook, the table that the runner, the report, the
publisher, the profiles, the memory and time estimates, the rehearsal and the tests read. Plain
data, checked when it is imported: it imports nothing of the course but the names of the stacks, so
every other module may import it. Adding a lesson is one record here plus its notebook (and its
section in each profile of ``helpers.profiles``, which says so at import if one is missing).

A record: the notebook's file; its stack (00 runs on either, the runner uses modern); its profile
section (``helpers.profiles``); its title; what a student learns; the prompt length in tokens that
the memory and time estimates assume where the notebook does not measure its own (04 measures its
longest prompt); which earlier notebook's output folder it reads (parameter -> notebook); whether
its cpu profile keeps the lesson, so that Colab's CPU runtime may take it instead of a GPU
(``cpu_runtime``); what the course report shows of it (``report``: GSM8K stages as (label,
"before" | "after" | "contrast"), a genre-reward row's label, or the preference section); its
memory shape, the training steps whose peak is the notebook's (``memory``: step -> label, a step of
``helpers.memory.fit``; 06 trains three ways, each freed before the next); its time shape
(``time``, a shape of ``helpers.timing``); and ``rehearsal_cuts``, the counts a rehearsal of a real
profile cuts so that the notebook runs on a CPU in minutes (``course_tools.rehearsal``).
"""

from __future__ import annotations

from pathlib import Path

from helpers.env import STACKS

REPO = Path(__file__).resolve().parent.parent
NOTEBOOKS_DIR = REPO / "notebooks"

COURSE = [
    dict(
        notebook="00_setup_and_trl_versions.ipynb",
        stack="modern",
        section="setup",
        title="00 setup and TRL versions",
        learn="which stack and why; a working environment; a first generation",
        rehearsal_cuts=dict(max_new_tokens=8),
    ),
    dict(
        notebook="01_genre_ppo_bert_reward.ipynb",
        stack="legacy",
        section="genre_ppo",
        title="01 genre PPO with a BERT reward",
        prompt_tokens=8,
        cpu_runtime=True,
        learn="the policy gradient from scratch (REINFORCE), then classic PPO: GPT-2 learns a "
        "genre from a classifier's reward",
        report=dict(genre="PPO, legacy TRL (01)"),
        memory=dict(reinforce="01 REINFORCE", genre_ppo="01 genre PPO"),
        time="genre_ppo",
        rehearsal_cuts=dict(
            texts_per_genre=12,
            classifier_epochs=1,
            ppo_steps=4,
            max_new_tokens=8,
            reinforce_steps=4,
        ),
    ),
    dict(
        notebook="02_gsm8k_sft.ipynb",
        stack="modern",
        section="sft",
        title="02 GSM8K SFT",
        cpu_runtime=True,
        learn="supervised fine-tuning of GPT-2 on math word problems",
        report=dict(gsm8k=[("base model", "before"), ("after SFT (02)", "after")]),
        memory=dict(sft="02 SFT"),
        time="sft",
        rehearsal_cuts=dict(
            train_size=32, eval_size=8, epochs=1, max_length=128, eval_max_new_tokens=16
        ),
    ),
    dict(
        notebook="03_ppo_on_sft_model.ipynb",
        stack="legacy",
        section="ppo_sft",
        title="03 PPO on the SFT model",
        prompt_tokens=128,
        learn="reference model and KL, MiniLM similarity reward, 16-bit weights",
        inputs={"sft_checkpoint": "02_gsm8k_sft"},
        report=dict(
            gsm8k=[
                ("after PPO (03)", "after"),
                ("after PPO with similarity alone (03's contrast)", "contrast"),
            ]
        ),
        memory=dict(ppo_sft="03 PPO on SFT"),
        time="ppo_sft",
        rehearsal_cuts=dict(
            train_size=16, eval_size=8, ppo_steps=4, max_new_tokens=16, eval_max_new_tokens=16
        ),
    ),
    dict(
        notebook="04_grpo_heuristic_rewards.ipynb",
        stack="modern",
        section="grpo",
        title="04 GRPO with heuristic rewards",
        prompt_tokens=200,
        learn="DeepSeek-style GRPO on Qwen2.5-0.5B-Instruct, no reward network",
        report=dict(
            gsm8k=[
                ("before GRPO (04: a chat model, not 02's)", "before"),
                ("after GRPO (04)", "after"),
            ]
        ),
        memory=dict(grpo="04 GRPO"),
        time="grpo",
        rehearsal_cuts=dict(
            train_size=16,
            eval_size=8,
            max_steps=4,
            max_completion_length=16,
            logging_steps=1,
            warm_start_examples=16,
        ),
    ),
    dict(
        notebook="05_rloo_genre_modern_trl.ipynb",
        stack="modern",
        section="genre_rloo",
        title="05 RLOO on the genre task",
        prompt_tokens=8,
        cpu_runtime=True,
        learn="PPO's successor in today's TRL, side by side with 01, and how to migrate",
        inputs={"genre_run": "01_genre_ppo_bert_reward"},
        report=dict(genre="RLOO, today's TRL (05)"),
        memory=dict(genre_rloo="05 genre RLOO"),
        time="genre_rloo",
        rehearsal_cuts=dict(max_steps=64, max_completion_length=8),  # 4 batches of 16 updates
    ),
    dict(
        notebook="06_preferences_reward_model_dpo.ipynb",
        stack="modern",
        section="preferences",
        title="06 preferences, a reward model and DPO",
        prompt_tokens=8,
        cpu_runtime=True,
        learn="human preferences, a Bradley-Terry reward model, DPO against RLOO, and reward "
        "over-optimisation",
        inputs={"genre_run": "01_genre_ppo_bert_reward"},
        report=dict(preferences=True),
        memory=dict(
            reward_model="06 reward model", dpo="06 DPO", pref_rloo="06 RLOO on the reward model"
        ),
        time="preferences",
        rehearsal_cuts=dict(
            pairs=120,
            tie_margin=0.0,
            eval_prompts=8,
            rl_steps=8,
            sweep_steps=8,
            checkpoints=2,
            max_new_tokens=8,
            reward_epochs=1,
            dpo_epochs=1,
        ),
    ),
]


REQUIRED = ("notebook", "stack", "section", "title", "learn", "rehearsal_cuts")


class LessonError(ValueError):
    """A lesson record that names no notebook file, an unknown stack, or an input that no earlier
    lesson is."""


def check_lessons(lessons: list[dict], notebooks_dir: Path = NOTEBOOKS_DIR) -> list[dict]:
    """The records, or a LessonError that names the record and what to change. Notebook files are
    looked for only where the notebooks folder exists (a checkout; an installed package has
    none)."""
    seen = set()
    for lesson in lessons:
        name = lesson.get("notebook", "?")
        missing = [key for key in REQUIRED if key not in lesson]
        if missing:
            raise LessonError(
                f"Lesson {name!r} lacks {missing}: every record has a {', '.join(REQUIRED)}."
            )
        if lesson["stack"] not in STACKS:
            raise LessonError(
                f"Lesson {name!r}: unknown stack {lesson['stack']!r}; the stacks are "
                f"{sorted(STACKS)}."
            )
        if notebooks_dir.is_dir() and not (notebooks_dir / name).is_file():
            raise LessonError(
                f"Lesson {name!r}: no such notebook in {notebooks_dir}; add it or fix the "
                "file name."
            )
        for parameter, source in lesson.get("inputs", {}).items():
            if source not in seen:
                raise LessonError(
                    f"Lesson {name!r} reads {parameter} from {source!r}, which is no "
                    "earlier lesson: list that notebook first."
                )
        seen.add(name.removesuffix(".ipynb"))
    return lessons


def lesson_for(section: str, lessons: list[dict] | None = None) -> dict:
    """The (first) record whose profile section is ``section``, or a LessonError naming them."""
    lessons = COURSE if lessons is None else lessons
    for lesson in lessons:
        if lesson["section"] == section:
            return lesson
    known = [lesson["section"] for lesson in lessons]
    raise LessonError(f"No lesson has the profile section {section!r}; the lessons': {known}.")


def unlisted_notebooks(lessons: list[dict], notebooks_dir: Path = NOTEBOOKS_DIR) -> list[str]:
    """Notebook files in the folder that no record names: the runner skips them and the publisher's
    check fails on them, both naming them."""
    listed = {lesson["notebook"] for lesson in lessons}
    return sorted(path.name for path in notebooks_dir.glob("*.ipynb") if path.name not in listed)


check_lessons(COURSE)

# Where a notebook does not measure its prompts, the length the estimates assume, per section.
PROMPT_TOKENS = {
    lesson["section"]: lesson["prompt_tokens"] for lesson in COURSE if "prompt_tokens" in lesson
}
