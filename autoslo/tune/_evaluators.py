"""Evaluators: what scores a batch of trials' configs, in this process or on Ray actors.

An evaluator is built from a `ScorerSpec` and says how many trials it takes at once
(`batch_size`); the study asks that many, the evaluator scores them, the study tells the results.
The Prefect flow brings its own (batches mapped as tasks on its task runner).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from autoslo.atomic import interrupt_pending, uninterrupted
from autoslo.config import PriceTable
from autoslo.errors import AutosloError
from autoslo.tune._objective import Scored, Scorer, ScorerSpec, release_scorers, score_batch


class Evaluator(Protocol):
    """Scores a batch of candidate configs; how many it takes at once is `batch_size`."""

    batch_size: int

    def __call__(self, batch: list[dict[str, Any]], prices: PriceTable,
                 best: float) -> list[Scored]: ...

    def close(self) -> None: ...


EvaluatorFactory = Callable[[ScorerSpec], Evaluator]


def default_evaluator(workers: int, address: str | None) -> EvaluatorFactory:
    """In this process for one worker; otherwise Ray actors that keep the scenarios loaded."""
    if workers == 1 and address is None:
        return LocalEvaluator
    return lambda spec: RayActorEvaluator(spec, workers, address)


class LocalEvaluator:
    """Scores one trial at a time in this process."""

    batch_size = 1

    def __init__(self, spec: ScorerSpec) -> None:
        self.spec = spec

    def __call__(self, batch: list[dict[str, Any]], prices: PriceTable,
                 best: float) -> list[Scored]:
        return score_batch(self.spec, batch, prices, best)

    def close(self) -> None:
        release_scorers()


class RayActorEvaluator:
    """One trial per Ray actor at a time; stops the Ray it started (never one it joined)."""

    def __init__(self, spec: ScorerSpec, workers: int, address: str | None) -> None:
        import os
        import signal
        import threading

        import ray

        os.environ.setdefault("RAY_AUTH_MODE", "disabled")  # a local, private Ray
        self.batch_size = workers
        self.started = not ray.is_initialized() and address is None
        if self.started:
            from autoslo.reaper import watch

            watch()  # the Ray started here dies with this process, even when it is killed
        main = threading.current_thread() is threading.main_thread()
        on_term = signal.getsignal(signal.SIGTERM) if main else None
        try:
            if address is None:
                ray.init(address="local", num_cpus=workers, include_dashboard=False, log_to_driver=False,
                         configure_logging=False, ignore_reinit_error=True)
            else:
                ray.init(address=address, log_to_driver=False, configure_logging=False,
                         ignore_reinit_error=True)
        except Exception as exc:  # ray raises several types for unreachable clusters
            raise AutosloError(f"parallelism.ray_address: cannot reach Ray at {address!r} "
                               f"({type(exc).__name__}: {exc})") from None
        finally:
            if callable(on_term):  # ray.init makes SIGTERM a plain exit; the caller's stays
                signal.signal(signal.SIGTERM, on_term)
        actor = ray.remote(num_cpus=1)(Scorer)
        self.actors = [actor.remote(spec) for _ in range(workers)]

    def __call__(self, batch: list[dict[str, Any]], prices: PriceTable,
                 best: float) -> list[Scored]:
        import ray

        refs = [a.score.remote(d, prices, best) for a, d in zip(self.actors, batch, strict=False)]
        # a signal raised inside Ray's own wait breaks it (SystemError): wait in short steps
        # with signals deferred, and stop waiting once one arrived (the batch is not recorded)
        ready: list[Any] = []
        with uninterrupted():  # leaving it raises the interrupt that stopped the wait, if any
            while len(ready) < len(refs) and not interrupt_pending():
                ready, _ = ray.wait(refs, num_returns=len(refs), timeout=0.2)
        return ray.get(refs)  # type: ignore[no-any-return]

    def close(self) -> None:
        import ray

        if self.started:
            ray.shutdown()
