"""The course at a glance: what each lesson teaches, and what it needs on each real profile's GPU
(peak memory from ``helpers.memory``, time from ``helpers.timing``). Notebook 00 shows it; the
publisher writes the same figures into the README and under each notebook's title.
"""

from __future__ import annotations

from helpers.lessons import COURSE
from helpers.memory.fit import lesson_estimate
from helpers.profiles import PROFILES
from helpers.timing import PROFILE_GPUS, minutes

PROFILE_NAMES = {"rtx2080ti-11gb": "11 GB", "t4-16gb": "T4", "a100-40gb": "A100"}


def needs(section: str) -> dict:
    """Per real profile: estimated peak GPU memory (GB, the largest of the lesson's training steps)
    and the time (a helpers.timing.TimeEstimate, a range) on that profile's GPU class."""
    settings = {name: PROFILES[name].notebook(section, rehearsal=False) for name in PROFILE_NAMES}
    return {
        name: (
            lesson_estimate(section, settings[name]).gb,
            minutes(section, settings[name], PROFILE_GPUS[name]),
        )
        for name in PROFILE_NAMES
    }


def cpu_minutes(section: str):
    """The cpu profile's estimate on 2 CPU cores (a helpers.timing.TimeEstimate: one measured
    figure)."""
    return minutes(section, PROFILES["cpu"].notebook(section, rehearsal=False), "CPU")


def course_map() -> list[dict]:
    """One row per notebook: what it teaches, its stack, and its estimated needs on a free Colab
    T4."""
    rows = []
    for entry in COURSE:
        if entry["section"] == "setup":
            t4 = "none (CPU is fine)"
        else:
            gb, time = needs(entry["section"])["t4-16gb"]
            t4 = f"~{gb:.1f} GB, {time.minutes_text}"
        rows.append(
            {
                "notebook": entry["notebook"],
                "stack": entry["stack"],
                "learn": entry["learn"],
                "on a T4 (estimated)": t4,
            }
        )
    return rows
