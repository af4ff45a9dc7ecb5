"""Training smoke runs (a few thousand steps), reward plumbing, determinism, Ctrl-C, GIFs."""

from __future__ import annotations

import json

import imageio.v3 as iio
import numpy as np
import pytest

from pathrl.errors import PathrlError
from pathrl.warmup import train as train_module
from pathrl.warmup.algos import ALGOS, build_kwargs
from pathrl.warmup.envs import make_vec_env
from pathrl.warmup.evaluate import record_gif
from pathrl.warmup.lab import run_lab
from pathrl.warmup.rewards import REWARD_PRESETS
from pathrl.warmup.train import TrainConfig, train_run

# Shrink rollouts / replay warm-ups so every algorithm trains a few thousand steps in seconds;
# the pipeline (env → reward → update → save → evaluate) is what is under test here.
FAST = {
    "ppo": {"n_steps": 256, "batch_size": 64},
    "a2c": {},
    "dqn": {"learning_starts": 500, "gradient_steps": 1, "train_freq": 8},
    "trpo": {"n_steps": 256, "n_critic_updates": 2},
    # the zoo's 170 quantiles cost ~0.1 s per gradient step on CPU; 25 keep the smoke run short
    "qrdqn": {
        "learning_starts": 500,
        "gradient_steps": 1,
        "train_freq": 8,
        "buffer_size": 5000,
        "batch_size": 32,
        "policy_kwargs": {"net_arch": [64, 64], "n_quantiles": 25},
    },
    "sac": {
        "learning_starts": 500,
        "buffer_size": 5000,
        "train_freq": 8,
        "batch_size": 64,
        "policy_kwargs": {"net_arch": [64, 64]},
    },
}


def smoke_config(algo: str, **overrides) -> TrainConfig:
    values = {
        "algo": algo,
        "timesteps": 2000,
        "n_envs": 2 if algo in ("ppo", "a2c", "trpo") else 1,
        "hyperparams": FAST.get(algo, {}),
        "eval_episodes": 2,
        "max_episode_steps": 150,
        "gif": False,
        "progress": False,
    }
    values.update(overrides)
    return TrainConfig(**values)


@pytest.mark.parametrize("algo", sorted(ALGOS))
def test_smoke_train_every_algorithm(algo, tmp_path) -> None:
    record = train_run(smoke_config(algo), tmp_path / algo)
    assert (tmp_path / algo / "model.zip").is_file()
    budget = record["timesteps_budgeted"]
    assert budget <= 2000 and record["trained_timesteps"] >= budget
    if hasattr(ALGOS[algo].load_class(), "n_steps") or "n_steps" in FAST.get(algo, {}):
        assert record["trained_timesteps"] == budget  # whole rollouts, never past the budget
    assert record["n_episodes"] == 2 and len(record["episode_rewards"]) == 2
    assert record["std_reward"] == pytest.approx(np.std(record["episode_rewards"]))
    assert 0.0 <= record["success_rate"] <= 1.0
    on_disk = json.loads((tmp_path / algo / "run.json").read_text())
    assert on_disk["mean_reward"] == record["mean_reward"]
    assert on_disk["algo"] == algo and on_disk["continuous"] == ALGOS[algo].continuous
    loaded = ALGOS[algo].load_class().load(tmp_path / algo / "model.zip", device="cpu")
    assert loaded.num_timesteps == record["trained_timesteps"]


def test_report_json_has_the_documented_fields(tmp_path) -> None:
    report = run_lab([smoke_config("a2c", gif=True, gif_max_steps=60)], tmp_path, "test")
    on_disk = json.loads((tmp_path / "report.json").read_text())
    assert on_disk == json.loads(json.dumps(report))
    (run,) = on_disk["runs"]
    for key in (
        "algo",
        "reward_config",
        "timesteps",
        "mean_reward",
        "std_reward",
        "success_rate",
        "wall_s",
        "gif_path",
        "curve_path",
        "model_path",
    ):
        assert key in run, key
    assert run["reward_config"] == REWARD_PRESETS["default"].to_dict()
    for path in (run["gif_path"], run["curve_path"], on_disk["curves_path"]):
        assert path and (tmp_path / path).is_file()
    markdown = (tmp_path / "report.md").read_text()
    assert "a2c-default/episode.gif" in markdown and "curves.png" in markdown


def test_same_seed_same_numbers(tmp_path) -> None:
    first = train_run(smoke_config("ppo", timesteps=1024), tmp_path / "a")
    second = train_run(smoke_config("ppo", timesteps=1024), tmp_path / "b")
    other = train_run(smoke_config("ppo", timesteps=1024, seed=1), tmp_path / "c")
    assert first["episode_rewards"] == second["episode_rewards"]
    assert first["episode_rewards"] != other["episode_rewards"]


def test_custom_reward_is_what_the_agent_learns_from() -> None:
    """The rewards PPO stores during rollouts are the shaped ones, not the env's."""
    from stable_baselines3 import PPO
    from stable_baselines3.common.callbacks import BaseCallback

    class Spy(BaseCallback):
        def __init__(self) -> None:
            super().__init__()
            self.seen: list[tuple[float, float, float]] = []

        def _on_step(self) -> bool:
            for reward, info in zip(self.locals["rewards"], self.locals["infos"], strict=True):
                comps = info["reward_components"]
                self.seen.append((float(reward), comps["shaped"], comps["env_reward"]))
            return True

    for preset, column in (("custom", 1), ("default", 2)):
        env = make_vec_env(REWARD_PRESETS[preset], n_envs=1, seed=3, max_episode_steps=100)
        model = PPO("MlpPolicy", env, n_steps=128, batch_size=64, seed=3, device="cpu")
        spy = Spy()
        model.learn(total_timesteps=128, callback=spy)
        env.close()
        seen = np.array(spy.seen)
        assert len(seen) == 128
        np.testing.assert_allclose(seen[:, 0], seen[:, column], rtol=1e-5)
        if preset == "custom":
            assert not np.allclose(seen[:, 1], seen[:, 2])


def test_linear_schedule_from_zoo_string() -> None:
    kwargs = build_kwargs(ALGOS["a2c"])
    schedule = kwargs["learning_rate"]
    assert schedule(1.0) == pytest.approx(0.00083) and schedule(0.5) == pytest.approx(0.000415)
    assert schedule(0.0) == pytest.approx(0.0)


def test_ctrl_c_saves_model_and_partial_report(tmp_path, monkeypatch) -> None:
    from stable_baselines3.common.callbacks import BaseCallback

    class InterruptAt(BaseCallback):
        def _on_step(self) -> bool:
            if self.num_timesteps >= 600:
                raise KeyboardInterrupt
            return True

    monkeypatch.setattr(train_module, "_progress_callback", lambda total, desc: InterruptAt())
    config = smoke_config("a2c", timesteps=5000, progress=True)
    with pytest.raises(KeyboardInterrupt):
        run_lab([config, smoke_config("ppo")], tmp_path, "test")
    assert (tmp_path / "a2c-default" / "model.zip").is_file()
    assert not (tmp_path / "ppo-default").exists()  # the second run never started
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["interrupted"] is True
    (run,) = report["runs"]
    assert run["interrupted"] is True and 600 <= run["trained_timesteps"] < 5000


def test_gif_is_written_and_readable(tmp_path) -> None:
    class Idle:
        def predict(self, obs, deterministic=True):
            return 0, None

    info = record_gif(Idle(), tmp_path / "idle.gif", seed=0, max_steps=40, frame_skip=2)
    frames = iio.imread(tmp_path / "idle.gif")
    assert frames.shape[0] == info["gif_frames"] == 21  # reset frame + every 2nd of 40 steps
    assert frames.shape[1:3] == (200, 300)  # 400x600 render, downscaled 2x
    assert info["gif_steps"] == 40


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"algo": "reinforce"}, "unknown algorithm"),
        ({"timesteps": -5}, "must be positive"),
        ({"eval_episodes": 0}, "at least 1"),
        ({"reward": "sparse-ish"}, "unknown reward config"),
        ({"hyperparams": {"n_stepz": 3}}, "invalid hyperparameter"),
    ],
)
def test_user_mistakes_are_pathrl_errors(overrides, message, tmp_path) -> None:
    with pytest.raises(PathrlError, match=message):
        train_run(smoke_config(**{"algo": "ppo", **overrides}), tmp_path / "run")


def test_unwritable_output_dir_is_a_pathrl_error(tmp_path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(PathrlError, match="cannot create output directory"):
        run_lab([smoke_config("ppo")], blocker / "out", "test")


def test_on_policy_runs_stop_at_the_last_whole_rollout_within_the_budget(tmp_path) -> None:
    record = train_run(smoke_config("ppo", timesteps=1300, select_every=0), tmp_path / "run")
    assert record["timesteps_budgeted"] == record["trained_timesteps"] == 1024  # 2 x 512
    assert "selection" not in record


def test_best_checkpoint_is_kept_and_chosen_on_its_own_seeds(tmp_path) -> None:
    from pathrl.warmup.evaluate import evaluate_model
    from pathrl.warmup.train import SELECTION_SEED_OFFSET

    config = smoke_config("ppo", timesteps=2048, select_every=512, select_episodes=2)
    record = train_run(config, tmp_path / "run")
    selection = record["selection"]
    assert [t for t, _ in selection["history"]] == [512, 1024, 1536, 2048]
    scores = [score for _, score in selection["history"]]
    assert selection["kept_score"] == max(scores) and selection["last_score"] == scores[-1]
    assert selection["kept_timesteps"] == selection["history"][scores.index(max(scores))][0]
    assert selection["seed"] == config.seed + SELECTION_SEED_OFFSET != config.seed + 1000
    saved = ALGOS["ppo"].load_class().load(tmp_path / "run" / "model.zip", device="cpu")
    again = evaluate_model(saved, n_episodes=2, seed=selection["seed"], max_episode_steps=150)
    assert round(again.mean_reward, 2) == selection["kept_score"]  # the kept weights were saved
    # selection episodes are counted (4 checks x 2 episodes of at most 150 steps)
    assert 4 * 2 <= selection["env_steps"] <= 4 * 2 * 150
    # "last" is the final model on the final evaluation's seeds: the run without selection
    # trains the same weights (evaluating never touches the training RNG) and scores that
    last_only = train_run(smoke_config("ppo", timesteps=2048, select_every=0), tmp_path / "last")
    assert selection["last_eval"]["n_episodes"] == config.eval_episodes
    assert selection["last_eval"]["mean_reward"] == last_only["mean_reward"]
    assert selection["last_eval"]["success_rate"] == last_only["success_rate"]
    if selection["kept_timesteps"] == 2048:
        assert record["mean_reward"] == last_only["mean_reward"]


def test_selection_defaults_off_when_the_agent_trains_on_another_reward(tmp_path) -> None:
    # selection scores the env reward; it would hide what a custom reward teaches
    record = train_run(smoke_config("ppo", timesteps=1024, reward="custom"), tmp_path / "run")
    assert "selection" not in record
    record = train_run(smoke_config("ppo", timesteps=1024), tmp_path / "default")
    assert record["selection"]["every"] == ALGOS["ppo"].select_every > 0
