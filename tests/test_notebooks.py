"""Course notebooks executed with papermill and the tiny profile, in the kernel of each stack they
need."""

import json
import os
import subprocess
import sys
import time

import nbformat
import psutil
import pytest

from helpers.lessons import COURSE, NOTEBOOKS_DIR

from .conftest import REPO, SEEDS, run_notebook, run_python

pytestmark = pytest.mark.notebook


@pytest.mark.parametrize("kernel", ["rlhf-modern", "rlhf-legacy"])
def test_notebook_00_runs_on_both_stacks(tmp_path, kernel):
    metrics = run_notebook("00_setup_and_trl_versions.ipynb", kernel, tmp_path)
    assert metrics["profile"] == "tiny"
    assert metrics["headline"]["stack"] == kernel.removeprefix("rlhf-")
    assert metrics["headline"]["trl"] == ("0.11.4" if kernel == "rlhf-legacy" else "1.16.0")
    assert metrics["wall_seconds"] > 0


@pytest.mark.parametrize(
    "entry",
    [e for e in COURSE if (NOTEBOOKS_DIR / e["notebook"]).exists()],
    ids=lambda e: e["notebook"],
)
def test_notebook_follows_the_house_rules(entry):
    notebook = nbformat.read(NOTEBOOKS_DIR / entry["notebook"], as_version=4)
    code = [c for c in notebook.cells if c.cell_type == "code"]
    assert [c for c in code if "parameters" in c.metadata.get("tags", [])], "no parameters cell"
    assert len([c for c in code if "parameters" in c.metadata.get("tags", [])]) == 1
    assert not any(c.get("outputs") for c in code), "committed with outputs"
    assert notebook.metadata["kernelspec"]["name"] == f"rlhf-{entry['stack']}"
    assert notebook.cells[0].cell_type == "markdown" and "Stack" in notebook.cells[0].source


def test_only_notebooks_are_committed_in_the_notebooks_folder():
    import subprocess

    tracked = subprocess.run(
        ["git", "ls-files", "notebooks"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.split()
    assert tracked, "git sees no notebooks"
    assert [
        path for path in tracked if not (path.endswith(".ipynb") and path.count("/") == 1)
    ] == []


def test_course_map_lists_every_notebook_in_the_folder():
    listed = {e["notebook"] for e in COURSE}
    assert {p.name for p in (REPO / "notebooks").glob("*.ipynb")} <= listed
    assert json.dumps(COURSE)  # plain data


def test_notebook_02_sft_loss_falls_and_the_format_is_learned(sft_run):
    _, metrics = sft_run
    losses = metrics["training"]["loss_per_epoch"]
    assert len(losses) == 3
    assert losses[0] > losses[1] > losses[2]
    assert losses[-1] < 0.6 * losses[0]
    evaluation = metrics["eval"]
    assert evaluation["sample_size"] == 200
    assert evaluation["before"]["format_rate"] < 0.2
    assert evaluation["after"]["format_rate"] > 0.8
    assert (
        evaluation["after"]["lenient"] > evaluation["before"]["lenient"] + 0.2
    )  # 0% -> 36-38% when measured
    for when in ("before", "after"):
        for grading in ("strict", "lenient"):
            low, high = evaluation[when][f"{grading}_ci95"]
            assert low <= evaluation[when][grading] <= high


def test_notebook_02_saves_a_checkpoint_with_its_records(sft_run):
    output_dir, metrics = sft_run
    for name in (
        "model.safetensors",
        "config.json",
        "tokenizer.json",
        "log_history.json",
        "loss.png",
        "metrics.json",
    ):
        assert (output_dir / name).exists(), name
    assert not list(output_dir.glob("checkpoint-*"))
    assert metrics["robe_problem"]["after"]


def test_the_legacy_stack_loads_the_sft_checkpoint_with_equal_logits(
    sft_run, modern_python, legacy_python
):
    output_dir, _ = sft_run
    modern = json.loads(
        run_python(modern_python, "tests/stack_probe.py", "--checkpoint", str(output_dir))
    )
    legacy = json.loads(
        run_python(legacy_python, "tests/stack_probe.py", "--checkpoint", str(output_dir))
    )
    assert legacy["stack"] == "legacy"
    assert legacy["models"]["checkpoint"]["ids"] == modern["models"]["checkpoint"]["ids"]
    flat = [v for row in modern["models"]["checkpoint"]["outputs"] for v in row]
    assert [v for row in legacy["models"]["checkpoint"]["outputs"] for v in row] == pytest.approx(
        flat, abs=1e-5
    )


@pytest.fixture(scope="session")
def ppo_sft_run(tmp_path_factory, sft_run, seed):
    sft_dir, _ = sft_run
    output_dir = tmp_path_factory.mktemp(f"03_ppo_sft-seed{seed}")
    return output_dir, run_notebook(
        "03_ppo_on_sft_model.ipynb",
        "rlhf-legacy",
        output_dir,
        sft_checkpoint=str(sft_dir),
        seed=seed,
        contrast=seed == SEEDS[0],
    )  # off on tiny by default: run it once


def test_notebook_03_ppo_raises_the_reward_and_the_sampled_correct_fraction(ppo_sft_run):
    _, metrics = ppo_sft_run
    learning = metrics["learning"]
    assert learning["metric"] == "reward" and learning["points"] == 200
    # Measured rises, seed 0: +0.3 reward and +0.15 correct fraction on one 2-core machine; +0.146
    # and +0.081 on another (2026-12-02), whose CPU kernels train 02's checkpoint to a different
    # start (30.5% greedy). The bounds ask for about two thirds of the smaller rise.
    assert learning["last_quarter_mean"] > learning["first_quarter_mean"] + 0.1, learning
    correct = metrics["correct_fraction"]
    assert correct["last_quarter_mean"] > correct["first_quarter_mean"] + 0.05, correct
    assert 0 < metrics["final_kl"] < 20


def test_notebook_03_greedy_accuracy_after_ppo_is_at_least_the_sft_models(ppo_sft_run):
    """The two-stage promise on the tiny profile (issue 13): held-out greedy accuracy does not fall
    below the SFT model's (benchmarks/rl_seeds.py: +3.0 to +11.5 points over seeds 0-4, n=200)."""
    evaluation = ppo_sft_run[1]["eval"]
    assert evaluation["sample_size"] == 200
    assert evaluation["after"]["lenient"] >= evaluation["before"]["lenient"], evaluation


def test_notebook_03_similarity_alone_raises_similarity_but_not_accuracy_as_far(ppo_sft_run, seed):
    metrics = ppo_sft_run[1]
    if seed != SEEDS[0]:
        assert metrics["contrast"] is None  # the tiny profile's default
        pytest.skip("the contrast runs once, on the first seed")
    contrast = metrics["contrast"]
    assert contrast["similarity_weight"] == 1.0 and contrast["learning"]["points"] == 200
    assert contrast["learning"]["last_quarter_mean"] > contrast["learning"]["first_quarter_mean"]
    assert contrast["after"]["lenient"] < metrics["eval"]["after"]["lenient"], (
        contrast,
        metrics["eval"],
    )


def test_notebook_03_records_accuracy_memory_and_the_policy(ppo_sft_run, sft_run):
    output_dir, metrics = ppo_sft_run
    evaluation = metrics["eval"]
    # the same model on the same problems as notebook 02's "after", loaded by the other stack
    assert evaluation["before"]["lenient"] == pytest.approx(
        sft_run[1]["eval"]["after"]["lenient"], abs=0.05
    )
    assert set(evaluation["after"]) >= {"strict", "lenient", "format_rate"}
    assert metrics["robe_problem"]["before"] and metrics["robe_problem"]["after"]
    memory = metrics["memory"]
    weights = memory["weights_gb"]
    assert weights["reference model"] == pytest.approx(
        weights["policy + value head (weights)"], rel=0.01
    )
    assert memory["peak_gb"] > weights["total before activations"]
    assert 0 < metrics["seconds_per_step"] < 5
    for name in ("policy/config.json", "ppo_curves.png", "ppo_history.json"):
        assert (output_dir / name).exists(), name


def test_notebook_03_with_lora_has_no_separate_reference_model(tmp_path, sft_run, seed):
    if seed != SEEDS[0]:
        pytest.skip("one seed is enough for the LoRA code path")
    metrics = run_notebook(
        "03_ppo_on_sft_model.ipynb",
        "rlhf-legacy",
        tmp_path,
        sft_checkpoint=str(sft_run[0]),
        lora=True,
        ppo_steps=8,
        contrast=False,
    )
    assert metrics["lora"] is True and metrics["learning"]["points"] == 8
    weights = metrics["memory"]["weights_gb"]
    assert weights["reference (none: LoRA adapters off)"] == 0
    assert (
        weights["gradients + Adam states (trainable only)"]
        < 0.5 * 3 * weights["policy + value head (weights)"]
    )


def test_notebook_03_without_a_checkpoint_says_to_run_02_first(tmp_path):
    import papermill

    with pytest.raises(papermill.PapermillExecutionError) as caught:
        run_notebook(
            "03_ppo_on_sft_model.ipynb",
            "rlhf-legacy",
            tmp_path,
            sft_checkpoint=str(tmp_path / "missing"),
        )
    assert caught.value.ename == "FileNotFoundError"
    assert "run notebook 02 first" in caught.value.evalue


@pytest.fixture(scope="session")
def grpo_run(tmp_path_factory, seed):
    output_dir = tmp_path_factory.mktemp(f"04_grpo-seed{seed}")
    return output_dir, run_notebook(
        "04_grpo_heuristic_rewards.ipynb", "rlhf-modern", output_dir, seed=seed
    )


def test_notebook_04_grpo_reward_rises(grpo_run):
    _, metrics = grpo_run
    learning = metrics["learning"]
    assert learning["metric"] == "reward" and learning["points"] >= 8
    assert learning["last_quarter_mean"] > learning["first_quarter_mean"] + 0.2, learning
    formats = metrics["reward_components"]["strict_format_reward"]
    assert formats["last_quarter_mean"] > formats["first_quarter_mean"]


def test_notebook_04_records_accuracy_speed_and_diagnostics(grpo_run):
    output_dir, metrics = grpo_run
    assert metrics["eval"]["sample_size"] == 200  # paired: the same problems before and after
    assert set(metrics["eval"]["paired"]) == {"kind", "gained", "lost", "p_value"}
    assert set(metrics["eval"]["after"]) >= {"strict", "lenient", "format_rate"}
    assert 0 < metrics["seconds_per_step"] < 5
    for name in (
        "training_curves.png",
        "format_vs_correctness.png",
        "log_history.json",
        "model.safetensors",
    ):
        assert (output_dir / name).exists(), name
    assert list((output_dir / "completions").glob("*.parquet"))
    assert not list(output_dir.glob("checkpoint-*"))


def test_notebook_04_grpo_by_hand_matches_the_trainer(grpo_run):
    by_hand = grpo_run[1]["by_hand"]
    assert by_hand["advantages, largest difference"]["difference"] < 1e-5
    for row in (
        "KL (mean k3 per token)",
        "loss (dapo)",
    ):  # float32, another forward pass: rounding only
        assert by_hand[row]["trainer"] is not None, row
        assert by_hand[row]["difference"] < 1e-4 + 1e-3 * abs(by_hand[row]["trainer"]), (
            row,
            by_hand[row],
        )
    assert (
        by_hand["KL (mean k3 per token)"]["by hand"] > 0
    )  # halfway through, the policy has left the reference


def test_notebook_04_stops_a_batch_that_splits_groups_before_loading_anything(tmp_path):
    import papermill

    with pytest.raises(papermill.PapermillExecutionError) as caught:
        run_notebook(
            "04_grpo_heuristic_rewards.ipynb",
            "rlhf-modern",
            tmp_path,
            per_device_train_batch_size=6,
        )
    assert "not a multiple of 8" in caught.value.evalue
    executed = nbformat.read(tmp_path / "04_grpo_heuristic_rewards.ipynb", as_version=4)
    assert not any(
        "from_pretrained" in c.source and c.get("execution_count")
        for c in executed.cells
        if c.cell_type == "code"
    )


@pytest.fixture(scope="session")
def genre_run(tmp_path_factory, seed):
    output_dir = tmp_path_factory.mktemp(f"01_genre_ppo-seed{seed}")
    return output_dir, run_notebook(
        "01_genre_ppo_bert_reward.ipynb", "rlhf-legacy", output_dir, seed=seed
    )


def test_notebook_01_ppo_raises_the_genre_reward(genre_run):
    _, metrics = genre_run
    learning = metrics["learning"]
    assert learning["metric"] == "P(scifi)" and learning["points"] == 60
    assert learning["last_quarter_mean"] > learning["first_quarter_mean"] + 0.15, (
        learning
    )  # +0.2 to +0.7 on seeds 0-4


def test_notebook_01_reinforce_learns_and_further_with_a_baseline(genre_run):
    """01 opens with REINFORCE from scratch: both runs' rewards rise, the baseline's further, in
    under 20 s for the two (6-10 s here on seeds 0 and 1)."""
    _, metrics = genre_run
    runs = metrics["reinforce"]
    plain, baseline = runs["no baseline"], runs["baseline: the batch's mean"]
    assert baseline["points"] == plain["points"] == 20
    assert baseline["last_quarter_mean"] > baseline["first_quarter_mean"] + 0.2, baseline
    assert plain["last_quarter_mean"] > plain["first_quarter_mean"], plain
    assert baseline["last_quarter_mean"] > plain["last_quarter_mean"], runs
    assert runs["seconds"] < 20


def test_notebook_01_classifier_is_accurate_and_saved_with_the_policy(genre_run):
    output_dir, metrics = genre_run
    assert metrics["classifier_accuracy"] > 0.8
    # natural sentences in other styles land in their genre (28-30 of 36 on seeds 0-4), while texts
    # in no genre stay near zero (empty/garbage <= 0.02, glued halves 0.04-0.13): the hardening does
    # not swallow natural text
    unseen = metrics["unseen_sentences"]
    assert unseen["n"] == 36 and unseen["accuracy"] >= 0.6, unseen
    assert sum(row[genre] for genre, row in unseen["confusion"].items()) == round(
        unseen["accuracy"] * 36
    )
    assert metrics["no_genre_probability"]["empty or garbage"] < 0.1, metrics[
        "no_genre_probability"
    ]
    assert metrics["no_genre_probability"]["glued halves"] < 0.25, metrics["no_genre_probability"]
    assert metrics["genres"] == ["scifi", "romance", "horror"]
    assert 0 < metrics["seconds_per_step"] < 5
    for name in (
        "genre_classifier/config.json",
        "policy/config.json",
        "ppo_curves.png",
        "ppo_step_health.png",
        "ppo_history.json",
    ):
        assert (output_dir / name).exists(), name


def test_notebook_01_records_the_health_of_every_ppo_step(genre_run):
    history = json.loads((genre_run[0] / "ppo_history.json").read_text())
    assert len(history) == 60
    for entry in history:
        assert 0 <= entry["clipfrac"] <= 1 and entry["approxkl"] >= 0 and entry["entropy"] > 0, (
            entry
        )
    # four passes over each batch: from the second on, the policy has moved and the clip fires
    # somewhere
    assert max(entry["clipfrac"] for entry in history) > 0


def test_notebook_01_ppo_by_hand_matches_trl(genre_run):
    by_hand = genre_run[1]["by_hand"]
    assert len(by_hand) == 8
    for (
        name,
        row,
    ) in by_hand.items():  # float32, another batching of the forward pass: rounding only
        scale = 1 if row["trainer"] is None else 1 + abs(row["trainer"])
        assert row["difference"] < 1e-4 * scale, (name, row)
    assert (
        by_hand["KL per text (sum of k1), mean"]["by hand"] > 0
    )  # halfway through, the policy has moved


def test_notebook_01_unknown_genre_lists_the_known_ones(tmp_path):
    import papermill

    with pytest.raises(papermill.PapermillExecutionError) as caught:
        run_notebook(
            "01_genre_ppo_bert_reward.ipynb", "rlhf-legacy", tmp_path, target_genre="western"
        )
    assert (
        "'western'" in caught.value.evalue
        and "['scifi', 'romance', 'horror']" in caught.value.evalue
    )
    assert not (tmp_path / "genre_classifier").exists()  # stopped before the classifier trained


def test_notebook_01_resumes_its_ppo_loop_after_a_disconnect_as_if_never_cut(
    genre_run, seed, tmp_path
):
    """A real disconnect: the kernel is killed once the loop's half-way checkpoint exists. Run again
    from the top, the notebook goes on from the checkpoint to the uninterrupted run's steps."""
    if seed != SEEDS[-1]:  # the last seed's worker has no contrast or LoRA run: it has the time
        pytest.skip("one seed shows it")
    notebook = "01_genre_ppo_bert_reward.ipynb"
    folder = REPO / "notebooks"
    command = [sys.executable, "-m", "papermill", str(folder / notebook), str(tmp_path / notebook),
               "-k", "rlhf-legacy", "--cwd", str(folder), "-p", "profile", "tiny",
               "-p", "output_dir", str(tmp_path), "-p", "seed", str(seed)]  # fmt: skip
    quiet = dict(stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    env = {**os.environ, "RLHF_HEADLESS": "1"}
    cut = subprocess.Popen(command, env=env, **quiet)
    deadline = time.time() + 900
    while (
        not (tmp_path / "ppo_checkpoint.pt").exists()
        and cut.poll() is None
        and time.time() < deadline
    ):
        time.sleep(0.2)
    processes = [*psutil.Process(cut.pid).children(recursive=True), psutil.Process(cut.pid)]
    for process in processes:  # papermill and its kernel, mid-loop
        process.kill()
    psutil.wait_procs(processes, timeout=30)
    assert (tmp_path / "ppo_checkpoint.pt").exists() and not (tmp_path / "metrics.json").exists()
    run_notebook(notebook, "rlhf-legacy", tmp_path, seed=seed)
    outputs = json.dumps(nbformat.read(tmp_path / notebook, as_version=4).cells)
    assert "Resuming after step 29" in outputs  # the checkpoint of step ppo_steps // 2 - 1
    resumed = json.loads((tmp_path / "ppo_history.json").read_text())
    through = json.loads((genre_run[0] / "ppo_history.json").read_text())
    assert [h["step"] for h in resumed] == [h["step"] for h in through]
    for mine, theirs in zip(resumed, through):  # the same rewards, KL, losses, step by step
        assert mine == pytest.approx(theirs, abs=1e-6), mine["step"]
    assert not (tmp_path / "ppo_checkpoint.pt").exists()  # deleted once the loop is over


def test_legacy_notebook_stops_on_the_modern_stack_with_the_install_command(tmp_path):
    import papermill

    with pytest.raises(papermill.PapermillExecutionError) as caught:
        run_notebook("01_genre_ppo_bert_reward.ipynb", "rlhf-modern", tmp_path)
    assert caught.value.ename == "WrongStackError"
    assert "requirements-legacy-trl.txt" in caught.value.evalue


@pytest.mark.parametrize(
    "run", ["genre_run", "sft_run", "ppo_sft_run", "grpo_run", "rloo_run", "preferences_run"]
)
def test_training_notebooks_report_an_estimate_next_to_the_measured_peak(run, request, seed):
    _, metrics = request.getfixturevalue(run)
    memory = metrics["memory"]
    assert memory["measured_gb"] > 0 and memory["estimate_gb"] > 0, memory
    # tiny models: small fixed buffers weigh more than at real size, so the band is wider than
    # validate's 15%
    assert 0.5 <= memory["estimate_over_measured"] <= 2.0, memory


@pytest.fixture(scope="session")
def rloo_run(tmp_path_factory, genre_run, seed):
    genre_dir, _ = genre_run
    output_dir = tmp_path_factory.mktemp(f"05_rloo-seed{seed}")
    return output_dir, run_notebook(
        "05_rloo_genre_modern_trl.ipynb",
        "rlhf-modern",
        output_dir,
        genre_run=str(genre_dir),
        seed=seed,
    )


def test_notebook_05_rloo_raises_the_genre_reward(rloo_run):
    learning = rloo_run[1]["learning"]
    assert learning["points"] == 60
    assert learning["last_quarter_mean"] >= learning["first_quarter_mean"] + 0.15, learning


def test_notebook_05_compares_with_ppo_update_for_update(rloo_run, genre_run):
    output_dir, metrics = rloo_run
    ppo, rloo = (
        metrics["comparison"]["PPO (notebook 01)"],
        metrics["comparison"]["RLOO (this notebook)"],
    )
    for row in (
        "texts per batch",
        "texts per gradient update",
        "gradient updates per batch",
        "passes over each text",
        "batches",
        "learning rate",
    ):
        assert ppo[row] == rloo[row], row
    assert ppo["gradient updates per batch"] == 8
    assert rloo["dropout"].startswith("off"), rloo["dropout"]  # counted in the trained model
    assert ppo["reward, last quarter"] == genre_run[1]["learning"]["last_quarter_mean"]
    assert (
        ppo["final KL per text (k1)"] > 0 and rloo["final KL per text (k1)"] > 0
    )  # one estimator, one unit
    assert metrics["memory"]["measured_gb"] > 0 and metrics["seconds_per_batch"] > 0
    assert (output_dir / "ppo_vs_rloo.png").stat().st_size > 0 and (output_dir / "policy").is_dir()


def test_notebook_05_rloo_by_hand_matches_the_trainer(rloo_run):
    by_hand = rloo_run[1]["by_hand"]
    assert by_hand["texts"] == 16
    assert by_hand["advantages_max_difference"] < 1e-5, (
        by_hand
    )  # leave-one-out baseline, KL in the reward
    assert by_hand["one_line_max_difference"] < 1e-5, by_hand  # k/(k-1) (r - mean): the same thing


def test_notebook_05_without_notebook_01_says_to_run_it_first(tmp_path):
    import papermill

    with pytest.raises(papermill.PapermillExecutionError) as caught:
        run_notebook(
            "05_rloo_genre_modern_trl.ipynb",
            "rlhf-modern",
            tmp_path,
            genre_run=str(tmp_path / "missing"),
        )
    assert (
        caught.value.ename == "FileNotFoundError" and "run notebook 01 first" in caught.value.evalue
    )


@pytest.mark.parametrize(
    ("notebook", "kernel", "name", "value"),
    [
        ("05_rloo_genre_modern_trl.ipynb", "rlhf-modern", "num_generations", 1),
        ("01_genre_ppo_bert_reward.ipynb", "rlhf-legacy", "reinforce_learning_rate", 0),
    ],
)
def test_an_exercise_parameter_out_of_range_stops_before_any_model_loads(
    tmp_path, notebook, kernel, name, value
):
    import papermill

    started = time.time()
    with pytest.raises(papermill.PapermillExecutionError) as caught:
        run_notebook(notebook, kernel, tmp_path, **{name: value})
    assert caught.value.ename == "ValueError"
    assert f"{name} = {value} is out of range" in caught.value.evalue
    assert time.time() - started < 60  # the settings cell: no model was loaded, nothing trained
    assert not list(tmp_path.glob("**/*.safetensors"))


@pytest.fixture(scope="session")
def preferences_run(tmp_path_factory, genre_run, seed):
    genre_dir, _ = genre_run
    output_dir = tmp_path_factory.mktemp(f"06_preferences-seed{seed}")
    return output_dir, run_notebook(
        "06_preferences_reward_model_dpo.ipynb",
        "rlhf-modern",
        output_dir,
        genre_run=str(genre_dir),
        seed=seed,
    )


def test_notebook_06_reward_model_learns_the_preferences(preferences_run):
    metrics = preferences_run[1]
    pairs = metrics["pairs"]
    assert pairs["compared"] == 4000 and pairs["usable"] == pairs["train"] + pairs["held_out"]
    assert 0 < pairs["ties"] < pairs["compared"] and pairs["held_out"] >= 200
    assert abs(pairs["flipped"] / pairs["usable"] - pairs["annotator_noise"]) < 0.03, pairs
    accuracy = metrics["reward_model_accuracy"]
    # held-out labels carry the annotators' 5% noise: 81.5-82.4% on seeds 0-2; against the gold
    # ordering 86-88%
    assert accuracy["accuracy"] >= 0.75 and accuracy["ci95"][0] > 0.6, accuracy
    assert accuracy["agrees_with_gold"] >= 0.8, accuracy
    assert sum(row["pairs"] for row in metrics["calibration"]) == 2 * accuracy["n"]


def test_notebook_06_dpo_and_rloo_raise_the_gold_win_rate(preferences_run):
    metrics = preferences_run[1]
    learning = metrics["learning"]  # DPO's implicit reward margin
    assert learning["last_quarter_mean"] > learning["first_quarter_mean"] + 0.3, learning
    reference = metrics["reference"]["gold"]
    for method in ("dpo", "rloo"):
        run = metrics[method]
        assert run["gold_win_rate"]["ci95"][0] > 0.5, (
            method,
            run,
        )  # better than the starting policy, clearly
        assert run["gold"] > reference + 0.2 and run["kl"] > 0, (method, run)
        assert (
            run["seconds"] > 0
            and run["memory"]["measured_gb"] > 0
            and run["memory"]["estimate_gb"] > 0
        )
    for name in (
        "reward_model/config.json",
        "dpo_policy/config.json",
        "rloo_policy/config.json",
        "reward_model.png",
        "dpo_vs_rloo.png",
        "over_optimisation.png",
    ):
        assert (preferences_run[0] / name).exists(), name


def test_notebook_06_without_a_kl_penalty_the_proxy_keeps_rising_and_the_verdict_on_gold_holds(
    preferences_run,
):
    """The tiny profile's over-optimisation sweep: with beta 0 the learned reward rises to the end.
    Gold then either turns (seeds 0 and 2: gold peaked at KL 21 and 19, then fell 0.50 and 0.42) or,
    as the notebook says when it does not, ends high: the policy found texts both rate highly (seed
    1: gold 0.93 at KL 33, still rising)."""
    sweep = preferences_run[1]["over_optimisation"]
    loose = sweep["runs"][str(sweep["loosest_beta"])]
    proxy = [point["proxy"] for point in loose["points"]]
    assert proxy[-1] > proxy[0] + 1 and loose["points"][-1]["kl"] > loose["points"][1]["kl"], loose[
        "points"
    ]
    assert sweep["turned"] == loose["turn"]["turned"]
    if not sweep["turned"]:
        assert loose["points"][-1]["gold"] > max(0.8, loose["turn"]["gold_at_peak"] - 0.05), loose


def test_notebook_06_too_few_pairs_says_how_many_are_needed(tmp_path, genre_run):
    import papermill

    with pytest.raises(papermill.PapermillExecutionError) as caught:
        run_notebook(
            "06_preferences_reward_model_dpo.ipynb",
            "rlhf-modern",
            tmp_path,
            genre_run=str(genre_run[0]),
            pairs=40,
        )
    assert caught.value.ename == "PreferenceDataError" and "at least" in caught.value.evalue


def test_notebook_06_without_notebook_01_says_to_run_it_first(tmp_path):
    import papermill

    with pytest.raises(papermill.PapermillExecutionError) as caught:
        run_notebook(
            "06_preferences_reward_model_dpo.ipynb",
            "rlhf-modern",
            tmp_path,
            genre_run=str(tmp_path / "missing"),
        )
    assert (
        caught.value.ename == "FileNotFoundError" and "run notebook 01 first" in caught.value.evalue
    )


def test_course_report_of_the_tiny_runs_renders_in_headless_chromium(
    tmp_path, genre_run, sft_run, ppo_sft_run, grpo_run, rloo_run, preferences_run, seed
):
    from course_tools.report import write_report

    from .test_report import browser_dom

    runs = {
        "01_genre_ppo_bert_reward": genre_run,
        "02_gsm8k_sft": sft_run,
        "03_ppo_on_sft_model": ppo_sft_run,
        "04_grpo_heuristic_rewards": grpo_run,
        "05_rloo_genre_modern_trl": rloo_run,
        "06_preferences_reward_model_dpo": preferences_run,
    }
    for stem, (folder, _) in runs.items():
        (tmp_path / stem).symlink_to(folder)
    dom = browser_dom(write_report(tmp_path, profile="tiny"))
    gsm8k = dom[dom.index('id="gsm8k"') : dom.index('id="genre"')]
    contrast = (
        ppo_sft_run[1]["contrast"] is not None
    )  # 03's similarity-only run: the first seed only
    assert (
        gsm8k.count("<tr>") == 1 + 5 + contrast
    )  # base, SFT, PPO, (similarity alone), Qwen before and after GRPO
    assert "RLOO" in dom and "PPO, legacy TRL (01)" in dom
    assert (
        'id="preferences"' in dom
        and 'id="over-optimisation"' in dom
        and "Reward model: held-out accuracy" in dom
    )
    loaded, total = map(int, dom.split('data-images-loaded="')[1].split('"')[0].split("/"))
    assert loaded == total >= 4
