"""helpers.lessons: one record per lesson. A record that cannot work stops at import with what to
change, and adding a lesson is one record plus its notebook: its row appears in the course map, the
README's map, the runner's order (after the notebook it reads from) and the report, with no other
module edited."""

import json

import pytest

from course_tools import publish, runner
from helpers import lessons, profiles, timing
from helpers.lessons import COURSE, LessonError, check_lessons
from helpers.memory import fit
from helpers.overview import course_map

from .test_course import make_notebook

GOOD = dict(
    notebook="00_setup_and_trl_versions.ipynb",
    stack="modern",
    section="setup",
    title="00",
    learn="x",
    rehearsal_cuts=dict(max_new_tokens=8),
)


@pytest.mark.parametrize(
    "change, message",
    [
        (dict(stack="classic"), "unknown stack 'classic'"),
        (dict(notebook="99_missing.ipynb"), "no such notebook"),
        (dict(inputs={"genre_run": "01_genre_ppo_bert_reward"}), "which is no earlier lesson"),
    ],
)
def test_a_record_that_cannot_work_is_named_with_what_to_change(change, message):
    with pytest.raises(LessonError, match=message):
        check_lessons([{**GOOD, **change}])
    with pytest.raises(LessonError, match="lacks \\['learn'\\]: every record has a notebook"):
        check_lessons([{k: v for k, v in GOOD.items() if k != "learn"}])
    assert check_lessons([GOOD]) == [GOOD]


def test_a_notebook_without_a_record_is_named_by_the_publisher_and_the_runner(
    tmp_path, monkeypatch, capsys
):
    notebooks = (
        tmp_path / "notebooks"
    )  # a copy of the folder with one notebook more, so that other tests see none
    notebooks.mkdir()
    for lesson in COURSE:
        (notebooks / lesson["notebook"]).write_bytes(
            (lessons.NOTEBOOKS_DIR / lesson["notebook"]).read_bytes()
        )
    make_notebook(notebooks / "99_no_record.ipynb", "raise RuntimeError('never run')")
    for module in (publish, runner):
        monkeypatch.setattr(module, "NOTEBOOKS_DIR", notebooks)
    assert lessons.unlisted_notebooks(COURSE, notebooks) == ["99_no_record.ipynb"]
    assert publish.publish(check=True) == [
        "notebooks/99_no_record.ipynb (no record in helpers/lessons.py)"
    ]
    runner.run_course("tiny", tmp_path / "run", only=["99"])
    assert "99_no_record.ipynb has no record in helpers/lessons.py" in capsys.readouterr().out


def test_a_stale_notebook_in_a_copied_folder_is_named_not_a_crash(tmp_path, monkeypatch):
    notebooks = tmp_path / "notebooks"  # a copy outside the repository, as in the test above
    notebooks.mkdir()
    for lesson in COURSE:
        (notebooks / lesson["notebook"]).write_bytes(
            (lessons.NOTEBOOKS_DIR / lesson["notebook"]).read_bytes()
        )
    first = notebooks / COURSE[0]["notebook"]
    first.write_text(first.read_text().replace(f'@{publish.course_source()[1]}\\"', '@old\\"', 1))
    monkeypatch.setattr(publish, "NOTEBOOKS_DIR", notebooks)
    assert publish.publish(check=True) == [f"notebooks/{first.name}"]


def test_a_lesson_whose_section_a_profile_lacks_is_named():
    with pytest.raises(LessonError, match="'new_section', which profiles .*'tiny'.* lack"):
        profiles.check_sections(profiles.PROFILES, [{**GOOD, "section": "new_section"}])


@pytest.mark.parametrize(
    "check, change, message",
    [
        (
            lambda lesson: profiles.check_sections(profiles.PROFILES, [lesson]),
            dict(rehearsal_cuts=dict(max_steps=4)),
            "cuts \\['max_steps'\\] in its rehearsal, which profile 'tiny'",
        ),
        (
            lambda lesson: timing.check_time_shapes([lesson]),
            dict(time="ppo"),
            "no time shape 'ppo' in helpers.timing",
        ),
        (
            lambda lesson: fit.check_memory_steps([lesson]),
            dict(memory=dict(ppo="01 PPO")),
            "no memory step \\['ppo'\\] in helpers.memory.fit",
        ),
    ],
)
def test_a_shape_or_cut_no_module_knows_is_named(check, change, message):
    check(GOOD)  # the good record passes each check
    with pytest.raises(LessonError, match=message):
        check({**GOOD, **change})


def test_every_lesson_s_rehearsal_cuts_only_shrink_real_profiles():
    for lesson in COURSE:
        for name, profile in profiles.PROFILES.items():
            real = vars(profile.notebook(lesson["section"], rehearsal=False))
            cut = vars(profile.notebook(lesson["section"], rehearsal=True))
            changed = {key for key in real if real[key] != cut[key]}
            assert changed <= set(lesson["rehearsal_cuts"]), (name, lesson["section"])
            assert all(cut[key] <= real[key] for key in lesson["rehearsal_cuts"])
            if name == "tiny":
                assert not changed  # the tiny profile is itself the rehearsal


@pytest.fixture
def one_more_lesson(tmp_path, monkeypatch):
    """The course's registry with a seventh lesson appended (05's settings, reading 01's folder,
    which the runner passes as `genre_run`), and a notebooks folder holding it and a stand-in for
    that 01."""
    extra = dict(
        notebook="07_extra_rloo.ipynb",
        stack="modern",
        section="genre_rloo",
        title="07 one more lesson",
        learn="what one record adds",
        inputs={"genre_run": "01_genre_ppo_bert_reward"},
        memory=dict(genre_rloo="07 genre RLOO"),
        time="genre_rloo",
        rehearsal_cuts=dict(max_steps=64, max_completion_length=8),
    )
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    make_notebook(
        notebooks / "01_genre_ppo_bert_reward.ipynb",
        (
            "from helpers.results import write_metrics\n"
            "write_metrics(output_dir, {'notebook': '01', 'profile': profile, 'wall_seconds': 0.1})"
        ),
    )
    make_notebook(
        notebooks / extra["notebook"],
        (
            "import json, pathlib\nfrom helpers.results import write_metrics\nread = "
            "json.loads((pathlib.Path(genre_run) / "
            "'metrics.json').read_text())['notebook']\nwrite_metrics(output_dir, "
            "{'notebook': '07', 'profile': profile, 'wall_seconds': 0.1, 'read': read})"
        ),
    )
    COURSE.append(extra)  # the one list every module reads
    monkeypatch.setattr(runner, "NOTEBOOKS_DIR", notebooks)
    yield extra
    COURSE.remove(extra)


def test_adding_a_lesson_is_one_record(one_more_lesson, tmp_path):
    with pytest.raises(LessonError, match="'07_extra_rloo.ipynb': no such notebook"):
        check_lessons(COURSE)  # a record asks for its notebook in the checkout
    rows = {row["notebook"]: row for row in course_map()}
    assert (
        rows["07_extra_rloo.ipynb"]["on a T4 (estimated)"]
        == rows["05_rloo_genre_modern_trl.ipynb"]["on a T4 (estimated)"]
    )
    assert (
        "| [07 one more lesson](notebooks/07_extra_rloo.ipynb) | what one record adds | modern |"
        in publish.readme_course_map()
    )
    run = runner.run_course("tiny", tmp_path / "run", only=["01", "07"])
    assert [(row["notebook"], row["status"]) for row in run] == [
        ("01_genre_ppo_bert_reward", "ran"),
        ("07_extra_rloo", "ran"),
    ]
    assert (
        json.loads((tmp_path / "run" / "07_extra_rloo" / "metrics.json").read_text())["read"]
        == "01"
    )
    assert "07_extra_rloo.ipynb" in (tmp_path / "run" / "report.html").read_text()
