#!/usr/bin/env bash
# A rank of `clnn-fashion --distributed` that dies (kill) or stops (stop) mid-run must end the
# whole job within 60 s, with a non-zero exit and a message naming rank 1.
# usage: dist_fault.sh MPIEXEC CLNN_FASHION kill|stop
set -u
mpiexec=$1 fashion=$2 fault=$3
case "$fault" in
  kill) signal=KILL expected="rank 1" ;;
  # Rank 0's timeout names it: stopped before it joined the collective, or inside it.
  stop) signal=STOP expected="rank 1 (has not joined|\(silent [0-9]+ s\) joined it, then went silent)" ;;
  *) echo "unknown fault $fault"; exit 2 ;;
esac
log=$(mktemp)
trap 'rm -f "$log"' EXIT
"$mpiexec" -n 2 "$fashion" --distributed --dist-timeout 10 --epochs 1 --batch 64 --limit 60000 \
  > "$log" 2>&1 &
job=$!

# Rank 1's process, once rank 0 has reported progress (training is under way).
rank1=
for _ in $(seq 1200); do
  if grep -q "step 50/" "$log"; then
    for pid in $(pgrep -f -- "$fashion --distributed"); do
      tr '\0' '\n' < "/proc/$pid/environ" 2>/dev/null | grep -qx OMPI_COMM_WORLD_RANK=1 && rank1=$pid
    done
    break
  fi
  kill -0 "$job" 2>/dev/null || break
  sleep 0.25
done
if [ -z "$rank1" ]; then
  cat "$log"
  echo "FAILED: training never got under way on rank 1"
  kill -9 "$job" 2>/dev/null
  exit 1
fi

start=$(date +%s)
kill -s "$signal" "$rank1"
for _ in $(seq 900); do  # 90 s at most
  kill -0 "$job" 2>/dev/null || break
  sleep 0.1
done
if kill -0 "$job" 2>/dev/null; then
  cat "$log"
  echo "FAILED: the job still runs 90 s after rank 1 got SIG$signal"
  pkill -9 -f -- "$fashion --distributed"
  exit 1
fi
wait "$job"
status=$?
elapsed=$(($(date +%s) - start))
cat "$log"
echo "after SIG$signal to rank 1: exit status $status in $elapsed s"
[ "$status" -ne 0 ] || { echo "FAILED: the job exited 0"; exit 1; }
[ "$elapsed" -le 60 ] || { echo "FAILED: it took over 60 s"; exit 1; }
grep -Eq "$expected" "$log" || { echo "FAILED: no message with '$expected'"; exit 1; }
echo "PASSED"
