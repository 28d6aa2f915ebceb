#!/bin/sh
# Fails a CI job when the DR link is not healthy. Reads the stack's outputs as `pulumi stack output
# --json` prints them (the program exports `state`, `lagSeconds` and `unappliedTransactions`, plain
# values, never secrets) and exits 1, saying why, when the link is not running, when its lag is
# unknown or above MAX_LAG_SECONDS (default 30), or, when MAX_UNAPPLIED_TRANSACTIONS is set, when
# more master transactions than that are not applied yet. Run `pulumi refresh` first: outputs are
# as fresh as the last refresh.
#   pulumi refresh --yes --skip-preview && pulumi stack output --json | ./dr-gate.sh
set -eu
max_lag="${MAX_LAG_SECONDS:-30}"
max_unapplied="${MAX_UNAPPLIED_TRANSACTIONS:-}"
outputs=$(cat)
state=$(printf '%s' "$outputs" | jq -r '.state // "absent"')
lag=$(printf '%s' "$outputs" | jq -r '.lagSeconds // "unknown"')
unapplied=$(printf '%s' "$outputs" | jq -r '.unappliedTransactions // "unknown"')
echo "link state ${state}, lag ${lag} s, unapplied transactions ${unapplied}"
if [ "$state" != "running" ]; then
  echo "the DR link is not running (state ${state})" >&2
  exit 1
fi
if ! printf '%s' "$outputs" | jq -e --argjson max "$max_lag" '(.lagSeconds | type) == "number" and .lagSeconds <= $max' > /dev/null; then
  echo "the DR link lags: lagSeconds ${lag} is not at most MAX_LAG_SECONDS ${max_lag}" >&2
  exit 1
fi
if [ -n "$max_unapplied" ] && ! printf '%s' "$outputs" | jq -e --argjson max "$max_unapplied" '(.unappliedTransactions | type) == "number" and .unappliedTransactions <= $max' > /dev/null; then
  echo "the DR link lags: ${unapplied} master transactions not applied, more than MAX_UNAPPLIED_TRANSACTIONS ${max_unapplied}" >&2
  exit 1
fi
