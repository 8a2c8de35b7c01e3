#!/usr/bin/env bash
# expect.sh STATUS REGEX -- COMMAND... - runs COMMAND and fails unless its exit
# status is STATUS ("abort" for SIGABRT, a number otherwise) and its stdout+stderr
# match the extended REGEX (grep -E; every line of a multi-line REGEX must match).
set -uo pipefail
want=$1 regex=$2
shift 3
out=$("$@" 2>&1); rc=$?
if [[ $want == abort ]]; then want=134; fi
if [[ $rc != "$want" ]]; then
  echo "FAIL: exit status $rc, expected $want"; echo "$out"; exit 1
fi
while IFS= read -r r; do
  if ! grep -Eq -- "$r" <<<"$out"; then echo "FAIL: no match for /$r/"; echo "$out"; exit 1; fi
done <<<"$regex"
echo "ok: status $rc"; head -c 3000 <<<"$out"
