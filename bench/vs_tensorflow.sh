#!/usr/bin/env bash
# The article's 20-epoch fits, TensorFlow against weightscope on this machine, side by side.
# Rounds alternate the two so that both see the same machine state; each run is a fresh
# process (data loading included, analysis excluded on both sides). Prints the median wall
# time, the median fit time (model.fit / the training loop alone), the peak RSS and the
# ratio weightscope/TensorFlow; then the whole main job (analysis, figures, explorer and report
# included) against TensorFlow's MLP fit alone. TensorFlow is installed into $VENV if it is missing.
#
#     bash bench/vs_tensorflow.sh            # 3 rounds
#     ROUNDS=5 bash bench/vs_tensorflow.sh
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-3}
VENV=${VENV:-.venv-tf}
if ! "$VENV/bin/python" -c "import tensorflow" >/dev/null 2>&1; then
  echo "installing TensorFlow into $VENV ..." >&2
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q -r reference/tensorflow/requirements.txt
fi
cargo build --release -q
BIN="${CARGO_TARGET_DIR:-target}/release/weightscope"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
log="$work/times.tsv"

measure() { # name model command...
  local name=$1 model=$2
  shift 2
  /usr/bin/time -f "%e %M" -o "$work/time" "$@" >/dev/null 2>"$work/stderr" || {
    cat "$work/stderr" >&2
    exit 1
  }
  read -r wall rss <"$work/time"
  local fit
  if [ "$name" = tensorflow ]; then
    fit=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]]['train_seconds'])" "$work/tf/seed-12345.json" "$model")
  else
    local dir="$work/ws-$model"
    [ "$name" = main ] && dir="$work/main-$model"
    fit=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['train_seconds'])" "$dir/metrics.json")
  fi
  printf '%s\t%s\t%s\t%s\t%s\n' "$name" "$model" "$wall" "$fit" "$rss" >>"$log"
  echo "round $round: $name $model: wall ${wall}s, fit ${fit}s, peak RSS $((rss / 1024)) MB" >&2
}

for round in $(seq "$ROUNDS"); do
  for model in mlp slp; do
    measure tensorflow "$model" "$VENV/bin/python" reference/tensorflow/reference.py \
      --models "$model" --seeds 12345 --fit-only --out "$work/tf"
    measure weightscope "$model" "$BIN" --config "configs/$model.toml" --out "$work/ws-$model" --no-analysis
  done
  # The whole main job (train, analysis, figures, explorer, report, comparison) against
  # TensorFlow's fit alone, in the same round.
  measure main mlp "$BIN" --config configs/mlp.toml --out "$work/main-mlp"
done

python3 - "$log" <<'PY'
import statistics, sys
rows = [l.split("\t") for l in open(sys.argv[1]).read().split("\n") if l]
def med(name, model, col):
    return statistics.median(float(r[col]) for r in rows if r[0] == name and r[1] == model)
print("| model | TensorFlow wall s | weightscope wall s | ratio | TensorFlow fit s | weightscope fit s | ratio | TensorFlow peak RSS MB | weightscope peak RSS MB |")
print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
for model in ("mlp", "slp"):
    tw, ww = med("tensorflow", model, 2), med("weightscope", model, 2)
    tf_, wf = med("tensorflow", model, 3), med("weightscope", model, 3)
    tr, wr = med("tensorflow", model, 4) / 1024, med("weightscope", model, 4) / 1024
    print(f"| {model.upper()} | {tw:.1f} | {ww:.1f} | {ww / tw:.2f} | {tf_:.1f} | {wf:.1f} | {wf / tf_:.2f} | {tr:.0f} | {wr:.0f} |")
tw, mw = med("tensorflow", "mlp", 2), med("main", "mlp", 2)
tr, mr = med("tensorflow", "mlp", 4) / 1024, med("main", "mlp", 4) / 1024
print()
print("| the whole main job against TensorFlow's MLP fit alone | TensorFlow wall s | weightscope wall s | ratio | TensorFlow peak RSS MB | weightscope peak RSS MB | ratio |")
print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
print(f"| `--config configs/mlp.toml` | {tw:.1f} | {mw:.1f} | {mw / tw:.2f} | {tr:.0f} | {mr:.0f} | {mr / tr:.2f} |")
PY
