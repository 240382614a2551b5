"""``convenv tune``: a Ray Tune sweep over the PPO settings of ``convenv train``.

Each trial is one SB3 training run (the default backend) with sampled PPO settings;
it reports the validation return after every evaluation, so the ASHA scheduler stops
weak trials early. Runs go under ``--out`` (made absolute: Tune's workers do not share
the driver's working directory). The best settings are written to ``best.json`` and
every trial's last result to ``trials.csv``.
"""

from __future__ import annotations

import argparse
import json
from functools import partial
from pathlib import Path

from convenv.cli import plain
from convenv.errors import InvalidArgumentError
from convenv.ray_support import require_ray, start_ray
from convenv.training.train_policy import TrainConfig

METRIC = "validation_return"
SCHEDULERS = ("asha", "fifo")


def search_space(tune) -> dict:
    """PPO settings sampled per trial (the tuned defaults of ``convenv train`` lie inside)."""
    return {
        "learning_rate": tune.loguniform(1e-4, 3e-3),
        "n_steps": tune.choice([8, 16, 32]),
        "batch_size": tune.choice([32, 64, 128]),
        "gae_lambda": tune.choice([0.0, 0.5, 0.9]),
        "ent_coef": tune.choice([0.0, 0.003, 0.01]),
    }


def run_trial(params: dict, base: TrainConfig) -> None:
    """One trial: ``convenv train`` with ``params``, reporting to Tune as it evaluates."""
    from ray import tune

    from convenv.training.train_policy import train

    reported = []

    def report(metrics: dict) -> None:
        reported.append(metrics)
        tune.report(metrics)

    import dataclasses

    trial_dir = Path(tune.get_context().get_trial_dir())
    config = dataclasses.replace(
        base, **params, out=str(trial_dir / "run"), overwrite=True, progress=False
    )
    path = train(config, report=report)
    if not reported:  # the run ended before its first evaluation: report its last
        settings = json.loads((path.parent / "settings.json").read_text())
        tune.report({METRIC: settings.get(METRIC, float("nan")), "timesteps": config.timesteps})


def sweep(
    base: TrainConfig,
    samples: int = 8,
    scheduler: str = "asha",
    cpus_per_trial: float = 1.0,
    address: str | None = None,
    seed: int = 0,
) -> dict:
    """Run the sweep; returns the best trial's settings and validation return."""
    if samples < 1:
        raise InvalidArgumentError(f"samples={samples}; pass a positive number of trials.")
    if scheduler not in SCHEDULERS:
        raise InvalidArgumentError(f"scheduler={scheduler!r}; pass one of {SCHEDULERS}.")
    if base.backend != "sb3":
        raise InvalidArgumentError("convenv tune sweeps the SB3 trainer; drop --backend.")
    tune = require_ray("ray.tune", "convenv tune")
    start_ray(address)
    out = Path(base.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    space = search_space(tune)
    stopper = None
    if scheduler == "asha":
        from ray.tune.schedulers import ASHAScheduler

        # Each report is one evaluation: stop the worse half after 1, 2, 4... of them.
        stopper = ASHAScheduler(time_attr="training_iteration", grace_period=1,
                                reduction_factor=2)  # fmt: skip
    tuner = tune.Tuner(
        tune.with_resources(partial(run_trial, base=base), {"cpu": cpus_per_trial}),
        param_space=space,
        tune_config=tune.TuneConfig(
            metric=METRIC,
            mode="max",
            num_samples=samples,
            scheduler=stopper,
            search_alg=_seeded_search(seed),
        ),
        run_config=tune.RunConfig(name="sweep", storage_path=str(out), verbose=1),
    )
    results = tuner.fit()
    frame = results.get_dataframe()
    frame.to_csv(out / "trials.csv", index=False)
    best = results.get_best_result()
    summary = {
        "settings": {k: best.config[k] for k in space},
        METRIC: float(best.metrics[METRIC]),
        "trials": len(frame),
        "errors": len(results.errors),
    }
    (out / "best.json").write_text(json.dumps(summary, indent=2))
    return summary


def _seeded_search(seed: int):
    from ray.tune.search.basic_variant import BasicVariantGenerator

    return BasicVariantGenerator(random_state=seed)


def main(argv: list[str] | None = None) -> int:
    from convenv.training.train_policy import add_arguments

    parser = argparse.ArgumentParser(
        prog="convenv tune",
        description=plain(__doc__),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    add_arguments(parser)
    parser.set_defaults(out="runs/tune", timesteps=50_000)
    parser.add_argument("--samples", type=int, default=8, help="trials to run")
    parser.add_argument(
        "--scheduler",
        choices=SCHEDULERS,
        default="asha",
        help="asha: stop weak trials early; fifo: run every trial to the end",
    )
    parser.add_argument("--cpus-per-trial", type=float, default=1.0, help="CPUs each trial takes")
    args = parser.parse_args(argv)
    options = {"samples": args.samples, "scheduler": args.scheduler,
               "cpus_per_trial": args.cpus_per_trial}  # fmt: skip
    address = args.address or None
    args.address = ""  # the trials run the SB3 backend; the address is the sweep's
    base = TrainConfig.from_arguments(args)
    summary = sweep(base, address=address, seed=base.seed, **options)
    print(json.dumps(summary, indent=2))
    print(f"wrote {Path(base.out).resolve()}/best.json and trials.csv")
    return 0
