#!/usr/bin/env bash
# A local process work pool, the deployments, and a worker, against $PREFECT_API_URL.
#   PREFECT_API_URL=http://127.0.0.1:4200/api bash deployments/local-pool.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export AUTOSLO_PROJECT_DIR="$PWD" RAY_AUTH_MODE=disabled PREFECT_SERVER_ANALYTICS_ENABLED=false
.venv/bin/prefect work-pool create local --type process --overwrite
.venv/bin/prefect --no-prompt deploy --all
exec .venv/bin/prefect worker start --pool local
