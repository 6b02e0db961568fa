#!/usr/bin/env bash
# The slow lanes that do not fit in `npm test`, one per CI run in a fixed daily rotation (UTC day of year modulo the
# number of lanes), so that each runs every few days while CI stays within its 30 minutes on 2 cores.
#
#   scripts/ci-lane.sh            # today's lane
#   scripts/ci-lane.sh --list     # the rotation, and which lane runs today
#   EDGETUNE_CI_LANE=NAME scripts/ci-lane.sh   # one lane by name (or 'all')
#
# A lane that cannot run on this machine (no qemu, no user namespaces, …) says so and why on stderr, loudly, and its
# tests are skipped — never silently passed.
set -euo pipefail
cd "$(dirname "$0")/.."

# name|what it runs (the arm64 lanes are issue 16's: test/arm64/*.spec.ts under qemu-user, via scripts/arm64/run)
LANES=(
  "arm64-boards|npx vitest run --config vitest.arm64.config.ts test/arm64/hw-plan.spec.ts test/arm64/agent.spec.ts test/arm64/insn-count.spec.ts"
  "arm64-mlp|env EDGETUNE_ARM64_MODELS=mnist-mlp npx vitest run --config vitest.arm64.config.ts test/arm64/compress-fidelity.spec.ts"
  "arm64-mbv2|env EDGETUNE_ARM64_MODELS=mnist-mbv2 npx vitest run --config vitest.arm64.config.ts test/arm64/compress-fidelity.spec.ts"
  "arm64-ocr-quant|env EDGETUNE_ARM64_MODELS=ppocr-cls EDGETUNE_ARM64_METHODS=int8,int8-symmetric,int8-dynamic,fp16 npx vitest run --config vitest.arm64.config.ts test/arm64/compress-fidelity.spec.ts"
  "arm64-ocr-struct|env EDGETUNE_ARM64_MODELS=ppocr-cls EDGETUNE_ARM64_METHODS=int4,prune,sparsity,lowrank npx vitest run --config vitest.arm64.config.ts test/arm64/compress-fidelity.spec.ts"
)

day_of_year=$((10#$(date -u +%j) - 1))
today=$((day_of_year % ${#LANES[@]}))

if [ "${1:-}" = --list ]; then
  for i in "${!LANES[@]}"; do
    mark=" "
    [ "$i" = "$today" ] && mark="*"
    echo "$mark ${LANES[$i]%%|*}: ${LANES[$i]#*|}"
  done
  exit 0
fi

chosen=()
if [ -n "${EDGETUNE_CI_LANE:-}" ]; then
  for i in "${!LANES[@]}"; do
    if [ "$EDGETUNE_CI_LANE" = all ] || [ "${LANES[$i]%%|*}" = "$EDGETUNE_CI_LANE" ]; then chosen+=("$i"); fi
  done
  [ ${#chosen[@]} -gt 0 ] || { echo "ci-lane: unknown lane '$EDGETUNE_CI_LANE' (scripts/ci-lane.sh --list)" >&2; exit 2; }
else
  chosen=("$today")
fi

npm run build >/dev/null
for i in "${chosen[@]}"; do
  name="${LANES[$i]%%|*}"
  cmd="${LANES[$i]#*|}"
  echo "== ci-lane: $name (lane $((i + 1)) of ${#LANES[@]}; day $day_of_year of the year): $cmd" >&2
  started=$(date +%s)
  # shellcheck disable=SC2086
  $cmd
  echo "== ci-lane: $name passed in $(($(date +%s) - started)) s" >&2
done
