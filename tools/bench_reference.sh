#!/usr/bin/env bash
# Runs the reference figures of issue 12 (bench/README.md "Reference runs") and prints them as a
# Markdown table to paste there. Take them on a quiet machine: the load average is printed with each
# row, and every figure is relative to bandwidth / peak measured in the same run.
#
#   tools/bench_reference.sh [path/to/moescope-cli] [--quick]
#
# Rows: olmoe-1b-7b cut to 4 layers and the bundled demo model, 1 and 2 threads (decode: prompt 64,
# 32 tokens, 10 repeats at 1 thread, 15 at 2), prefill of 512 tokens (exact and fast-bf16), recording
# overhead through the storage Recorder (capture routing = ids+weights), and the optional BF16 KV cache
# and Q8_0 weight modes where this build has them. --quick: fewer repeats (a smoke run, not figures).
set -euo pipefail
CLI=${1:-build/app/moescope-cli}
QUICK=0
for a in "$@"; do [ "$a" = "--quick" ] && QUICK=1; done
[ -x "$CLI" ] || { echo "moescope-cli not found at $CLI (give its path)" >&2; exit 2; }
R1=10; R2=15; RP=3; G=32; BW=1024
if [ "$QUICK" = 1 ]; then R1=2; R2=2; RP=1; G=8; BW=256; fi
TMP=$(mktemp -d); trap 'rm -rf "$TMP"' EXIT
HAS_KV=0; "$CLI" bench --help 2>&1 | grep -q -- '--kv-dtype' && HAS_KV=1
HAS_Q8=0; "$CLI" bench --help 2>&1 | grep -q -- '--weights' && HAS_Q8=1

run() {  # name, then bench arguments
  local name=$1; shift
  local load; load=$(cut -d' ' -f1 /proc/loadavg)
  "$CLI" bench "$@" --bw-mib "$BW" --json > "$TMP/$name.json"
  python3 - "$TMP/$name.json" "$name" "$load" "$*" <<'PY'
import json, sys
j = json.load(open(sys.argv[1])); name, load, args = sys.argv[2], sys.argv[3], sys.argv[4]
bw = j["bandwidth_gbps"]; pf = j["prefill_tok_s"]; dc = j["decode_tok_s"]; fr = j["decode_fraction_of_bound_per_repeat"]
pk = j.get("peak_gflops", {})
cap = j.get("capture")
cap_s = f'{cap["decode_overhead_pct"]:+.1f}%' if cap else "—"
peak = pk.get("bf16_dot" if j["matmul_precision"] == "fast-bf16" else "fp32_fma", 0)
pfrac = f' ({100*j["prefill_gflops"]/peak:.0f}% of {peak:.0f})' if peak else ""
extra = []
bound_s = f'{100*j["decode_fraction_of_bound"]:.1f}%'
if j.get("weights_fit_in_cache"):  # the DRAM bound does not apply: the in-cache read bound does
    bound_s = f'{100*j["decode_fraction_of_cache_bound"]:.1f}% of cache bound ({j["cache_bandwidth_gbps"]["median"]:.0f} GB/s)'
if j.get("kv_dtype", "f32") != "f32": extra.append("kv " + j["kv_dtype"])
if j.get("weights", "native") != "native": extra.append("weights " + j["weights"])
print(f'| {name} | {load} | {j["threads"]} | {j["matmul_precision"]}{" " + ", ".join(extra) if extra else ""} | '
      f'{j["prompt_len"]}/{j["gen_len"]}/{j["repeats"]} | {bw["median"]:.2f} | {pf["median"]:.1f} [{pf["min"]:.1f}, {pf["max"]:.1f}] | '
      f'{j["prefill_gflops"]:.1f}{pfrac} | {dc["median"]:.2f} [{dc["min"]:.2f}, {dc["max"]:.2f}] | '
      f'{bound_s} | {100*fr["median"]:.1f}% [{100*fr["min"]:.1f}, {100*fr["max"]:.1f}] | {cap_s} |')
PY
}

echo "# moescope-cli bench reference runs, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo
echo "| run | load | threads | precision | P/G/repeats | BW GB/s | prefill tok/s median [range] | prefill GFLOP/s (of peak) | decode tok/s median [range] | decode / bound | per repeat / bound, median [range] | capture overhead |"
echo "|---|---:|---:|---|---|---:|---:|---:|---:|---:|---:|---:|"
OL=(--synthetic olmoe-1b-7b --layers 4)
run olmoe4-decode-1t  "${OL[@]}" --threads 1 --prompt-len 64 --gen-len $G --repeats $R1 --capture routing
run olmoe4-decode-2t  "${OL[@]}" --threads 2 --prompt-len 64 --gen-len $G --repeats $R2 --capture routing
run demo-decode-1t    demo --threads 1 --prompt-len 64 --gen-len $G --repeats $R1 --capture routing
run demo-decode-2t    demo --threads 2 --prompt-len 64 --gen-len $G --repeats $R2 --capture routing
run olmoe4-prefill-1t-fast  "${OL[@]}" --threads 1 --prompt-len 512 --gen-len 4 --repeats $RP --precision fast-bf16
run olmoe4-prefill-2t-fast  "${OL[@]}" --threads 2 --prompt-len 512 --gen-len 4 --repeats $RP --precision fast-bf16
run olmoe4-prefill-1t-exact "${OL[@]}" --threads 1 --prompt-len 512 --gen-len 4 --repeats $RP --precision exact
run olmoe4-prefill-2t-exact "${OL[@]}" --threads 2 --prompt-len 512 --gen-len 4 --repeats $RP --precision exact
if [ "$HAS_KV" = 1 ]; then
  run olmoe4-decode-1t-kvbf16 "${OL[@]}" --threads 1 --prompt-len 512 --gen-len $G --repeats $R1 --kv-dtype bf16
  run olmoe4-decode-1t-kvf32  "${OL[@]}" --threads 1 --prompt-len 512 --gen-len $G --repeats $R1 --kv-dtype f32
fi
if [ "$HAS_Q8" = 1 ]; then
  run olmoe4-decode-1t-q8 "${OL[@]}" --threads 1 --prompt-len 64 --gen-len $G --repeats $R1 --weights q8_0
  run olmoe4-decode-2t-q8 "${OL[@]}" --threads 2 --prompt-len 64 --gen-len $G --repeats $R2 --weights q8_0
fi
echo
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
