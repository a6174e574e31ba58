"""The data commands: export a config for a real cluster, mirror the data tree to S3, clean up
live clusters left behind."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import typer

from autoslo.cli.app import app, sub_app

if TYPE_CHECKING:
    from autoslo.datatree import DataTree


@app.command("export")
def export_config(
    ctx: typer.Context,
    config: Annotated[Path, typer.Argument(help="Execution config YAML (e.g. a tuned one).")],
    format_: Annotated[str, typer.Option(
        "--format", help="wlm-json (the parameter group's wlm_json_configuration) or aws-cli.")
    ] = "aws-cli",
    param: Annotated[list[str] | None, typer.Option(
        "--param", help="NAME=VALUE for ${NAME} placeholders.")] = None,
    set_: Annotated[list[str] | None, typer.Option("--set", help="Dotted override.")] = None,
) -> None:
    """Print what to apply to a real cluster or workgroup for an execution config."""
    import json

    from autoslo.config import parse_overrides, parse_params, resolve_execution_config
    from autoslo.config.execution import ProvisionedCluster
    from autoslo.errors import InputError
    from autoslo.live.redshift import aws_cli, wlm_json

    if format_ not in ("wlm-json", "aws-cli"):
        raise InputError(f"--format must be wlm-json or aws-cli, got {format_!r}")
    resolved = resolve_execution_config(config, params=parse_params(param or []),
                                        overrides=parse_overrides(set_ or []), tree=ctx.obj)
    if format_ == "aws-cli":
        typer.echo(aws_cli(resolved.config, resolved.name), nl=False)
        return
    documents = {f"c{i}": wlm_json(c) for i, c in enumerate(resolved.config.pool.clusters)
                 if isinstance(c, ProvisionedCluster)}
    if not documents:
        raise InputError("has no provisioned cluster, so no WLM JSON: use --format aws-cli",
                         source=str(config))
    # one document when every provisioned cluster has the same WLM, else one per cluster
    distinct = {json.dumps(d, sort_keys=True) for d in documents.values()}
    typer.echo(json.dumps(next(iter(documents.values())) if len(distinct) == 1 else documents,
                          indent=2))


storage_app = sub_app("Mirror the data tree to and from S3 (a prefect-aws S3Bucket block).")
app.add_typer(storage_app, name="storage")


def _sync(tree: DataTree, direction: Literal["push", "pull"], path: str | None, block: str | None,
          delete: bool) -> None:
    from autoslo.storage import load_bucket, pull, push

    if path is not None:
        tree.ref(path, field="PATH")  # data-relative and inside the tree
    action = push if direction == "push" else pull
    report = action(tree.root, load_bucket(block), path, delete=delete)
    typer.echo(report.line("uploaded" if direction == "push" else "downloaded"))


@storage_app.command("push")
def storage_push(
    ctx: typer.Context,
    path: Annotated[str | None, typer.Argument(help="Data-relative folder or file (default: all).")
                    ] = None,
    block: Annotated[str | None, typer.Option(
        help="S3Bucket block name (default: $AUTOSLO_STORAGE=s3-bucket/<name>).")] = None,
    delete: Annotated[bool, typer.Option(
        "--delete", help="Also delete objects that no longer exist locally.")] = False,
) -> None:
    """Upload new and changed files of the data tree (checked by size and hash)."""
    _sync(ctx.obj, "push", path, block, delete)


@storage_app.command("pull")
def storage_pull(
    ctx: typer.Context,
    path: Annotated[str | None, typer.Argument(help="Data-relative folder or file (default: all).")
                    ] = None,
    block: Annotated[str | None, typer.Option(
        help="S3Bucket block name (default: $AUTOSLO_STORAGE=s3-bucket/<name>).")] = None,
    delete: Annotated[bool, typer.Option(
        "--delete", help="Also delete local files that no longer exist in the bucket.")] = False,
) -> None:
    """Download new and changed objects into the data tree (checked by size and hash)."""
    _sync(ctx.obj, "pull", path, block, delete)


live_app = sub_app("Look after live clusters.")
app.add_typer(live_app, name="live")


@live_app.command("cleanup")
def live_cleanup(
    ctx: typer.Context,
    target: Annotated[str, typer.Option(
        help="postgres (local servers), duckdb (spill folders) or redshift.")] = "postgres",
    region: Annotated[str | None, typer.Option(help="redshift: AWS region.")] = None,
    everything: Annotated[bool, typer.Option(
        "--all", help="redshift: also remove tagged resources of runs not in this data tree.")
    ] = False,
) -> None:
    """Mark live runs that were killed `incomplete` and remove the clusters they left behind."""
    from autoslo.live.records import settle_dead_runs

    if target not in ("postgres", "duckdb", "redshift"):
        raise typer.BadParameter(f"--target must be postgres, duckdb or redshift, got {target!r}")
    settled = settle_dead_runs(ctx.obj)
    typer.echo(f"marked {len(settled)} killed run(s) incomplete"
               + "".join(f"\n  {r.run_timestamp} ({r.workload_id} / {r.execution_config_id})"
                         for r in settled))
    if target == "redshift":
        from autoslo.config.manifests import LiveSettings
        from autoslo.live.run import cleanup_redshift

        gone = cleanup_redshift(ctx.obj, LiveSettings(target="redshift", region=region),
                                everything=everything)
        typer.echo(f"removed {len(gone)} orphaned Redshift resource(s)"
                   + "".join(f"\n  {name}" for name in gone))
        return
    if target == "duckdb":
        from autoslo.live import duckdb

        removed = duckdb.cleanup_orphans()
    else:
        from autoslo.live.postgres import cleanup_orphans

        removed = cleanup_orphans()
    typer.echo(f"removed {len(removed)} orphaned local cluster(s)"
               + "".join(f"\n  {path}" for path in removed))
