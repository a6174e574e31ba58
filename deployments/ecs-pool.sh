#!/usr/bin/env bash
# An ECS (prefect-aws) push-free work pool for cloud workers, from the committed job template.
# Edit deployments/ecs-base-job-template.json first: image (this repo installed), cluster, roles.
#   PREFECT_API_URL=... bash deployments/ecs-pool.sh && prefect --no-prompt deploy --all --pool ecs
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/prefect work-pool create ecs --type ecs --overwrite \
    --base-job-template deployments/ecs-base-job-template.json
