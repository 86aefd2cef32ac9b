#!/usr/bin/env bash
# Runs cargo-fuzz targets for a fixed time each, one after another, seeding each from the
# project's corpus files, and stops at the first crash (the artifact path is printed).
#   fuzz/run.sh SECONDS TARGET...
# Needs cargo-fuzz (`cargo install cargo-fuzz`); the stable toolchain is used with
# RUSTC_BOOTSTRAP=1 for the sanitizer flags.
set -euo pipefail
cd "$(dirname "$0")"
secs=$1; shift
export RUSTC_BOOTSTRAP=1
for t in "$@"; do
  work="corpus/$t"
  mkdir -p "$work"
  case "$t" in
    pst_*) find ../corpus/pst -name '*.pst' -size -300k -exec cp -n {} "$work/" \; ;;
    ccmail_*) find ../corpus/ccmail -type f ! -name '*.json' ! -name '*.md' ! -name '*.py' -exec cp -n {} "$work/" \; ;;
    iff_*) find ../corpus/iff -type f \( -iname '*.pri' -o -iname '*.sec' -o -iname '*.pkl' \) -exec cp -n {} "$work/" \; ;;
    mmff_*|msmail_*) find ../corpus/msmail -type f ! -name '*.json' ! -name '*.md' -size -200k -exec cp -n {} "$work/" \; 2>/dev/null || true ;;
    jsonl_*) cp -n ../corpus/jsonl/sample.jsonl "$work/" ;;
  esac
  echo "=== $t for ${secs}s"
  cargo fuzz run "$t" "$work" -- -max_total_time="$secs" -rss_limit_mb=2048 -timeout=10 2>&1 | tail -n 4
done
