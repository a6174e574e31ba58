"""What tuning against the contention model's uncertainty buys and costs (issue 16, item 6).

The example Serverless pool and tuner config, simulated with the contention model fitted from the
real Redshift Serverless workgroup (data/models/redshift-sls-16rpu, with its bootstrap samples),
are tuned twice with the same seed and budget: once on the fitted law alone, once with
`contention_samples: K` (each trial scored under the fitted law and K bootstrap samples: mean
cost, worst violation). Each tuned config is then scored on the workload under the fitted law,
under every bootstrap sample of the fit (the worst is printed), and with the fitted capacity 10 %
lower: the model "10 % off". Printed side by side, with the wall time of each tuning run.

    .venv/bin/python benchmarks/contention_uncertainty.py [--trials 60] [--samples 8] [--smoke]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from autoslo.config import SloSpec, load_model, resolve_execution_config  # noqa: E402
from autoslo.config.execution import FittedContention, SharingLaw  # noqa: E402
from autoslo.datatree import DataTree  # noqa: E402
from autoslo.perf.contention import load_contention_model  # noqa: E402
from autoslo.tune import resolve_inputs, run_tuning  # noqa: E402
from autoslo.tune._objective import Scenario  # noqa: E402
from autoslo.workload import load_workload  # noqa: E402

MODEL = "models/redshift-sls-16rpu"


def setup(root: Path, trials: int, samples: int) -> tuple[DataTree, Path, Path, Path]:
    shutil.copytree(REPO / "data", root, ignore=shutil.ignore_patterns(
        "simulator_runs", "runs", "tuner_runs", "plots", "tuned"))
    tree = DataTree(root)
    config = yaml.safe_load((root / "execution_configs/examples/serverless-pool.yml").read_text())
    config["contention"] = {"model": "fitted", "path": MODEL}
    exec_path = root / "execution_configs/examples/pool-fitted.yml"
    exec_path.write_text(yaml.safe_dump(config))
    tuner = yaml.safe_load((root / "tuner_configs/example.yml").read_text())
    tuner.update({"n_trials": trials, "parallelism": {"workers": 1}})
    plain, robust = root / "tuner_configs/plain.yml", root / "tuner_configs/robust.yml"
    plain.write_text(yaml.safe_dump(tuner))
    robust.write_text(yaml.safe_dump({**tuner, "contention_samples": samples}))
    return tree, exec_path, plain, robust


def score_under(tree: DataTree, tuned: Path, laws: dict[str, SharingLaw]) -> dict[str, tuple[float, float]]:
    """(cost, violation) of a tuned config on the example workload under each law."""
    config = resolve_execution_config(tuned, tree=tree).config
    spec = load_model(tree.root / "slos/example.yml", SloSpec)
    scenario = Scenario.build(load_workload(tree.root / "workloads/example"), spec, None)
    out = {}
    for name, law in laws.items():
        contention = config.contention
        assert isinstance(contention, FittedContention)
        variant = config.model_copy(update={"contention": contention.model_copy(
            update={"parameters": law})})
        out[name] = scenario.score(variant, None)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=60)
    parser.add_argument("--samples", type=int, default=8)
    parser.add_argument("--smoke", action="store_true")
    args = parser.parse_args()
    if args.smoke:
        args.trials, args.samples = 12, 2
    print(f"load average at start: {os.getloadavg()}", flush=True)
    root = Path(tempfile.mkdtemp(prefix="autoslo-uncertainty-")) / "data"
    tree, exec_path, plain, robust = setup(root, args.trials, args.samples)
    model = load_contention_model(root / MODEL)
    law = model.law
    results = {}
    for label, tuner in (("fitted law only", plain), (f"+ {args.samples} samples", robust)):
        inputs = resolve_inputs(exec_path, tuner, {}, {}, tree)
        began = time.perf_counter()
        summary = run_tuning(inputs, tree)
        seconds = time.perf_counter() - began
        tuned = tree.tuned_config(summary.tuner_run_name)
        laws = {"fitted": law, "capacity -10 %": law.model_copy(
            update={"capacity": 0.9 * law.capacity})}
        laws |= {f"sample {i + 1}": s for i, s in enumerate(model.samples)}
        scores = score_under(tree, tuned, laws)
        worst = max((v for k, v in scores.items() if k.startswith("sample")), key=lambda x: x[1])
        results[label] = (seconds, scores["fitted"], scores["capacity -10 %"], worst,
                          summary.validation)
    tau = yaml.safe_load((root / "tuner_configs/example.yml").read_text())["tau"]
    print(f"example pool, {args.trials} trials, tau {tau:.0%}, contention {MODEL} "
          f"({len(model.samples)} bootstrap samples)")
    print(f"{'tuned with':<18}{'tuning s':>9}{'cost USD':>10}{'violation':>10}"
          f"{'viol. cap -10 %':>17}{'viol. worst sample':>20}   tuner's verdict")
    for label, (seconds, fitted, off, worst, verdict) in results.items():
        print(f"{label:<18}{seconds:>9.1f}{fitted[0]:>10.4f}{fitted[1]:>10.2%}{off[1]:>17.2%}"
              f"{worst[1]:>20.2%}   {'feasible' if verdict.feasible else 'NO feasible config'} "
              f"(violation {verdict.violation:.2%} as it scores)")
    (a, *_), (b, *_) = results.values()
    print(f"tuning time with samples / without: {b / a:.2f}x")
    print(f"load average at end: {os.getloadavg()}")
    shutil.rmtree(root.parent, ignore_errors=True)


if __name__ == "__main__":
    main()
