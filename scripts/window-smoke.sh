#!/usr/bin/env bash
# Window smoke test: start the real desktop binary under Xvfb, take a
# screenshot, and read Atoll's own words off it with OCR, so a blank window,
# the Wails template or a crashed frontend all fail. Also records start-up time
# (launch until the Knowledge screen is readable) and memory (app + WebKit
# processes) in test-artifacts/window/metrics.json for `make bench`.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=build/bin/atoll-desktop
out=test-artifacts/window
mkdir -p "$out"
[ -x "$bin" ] || { echo "window-smoke: $bin is missing; run make build" >&2; exit 1; }
data=$(mktemp -d)
disp=":$((100 + RANDOM % 200))"
Xvfb "$disp" -screen 0 1280x860x24 -nolisten tcp >/dev/null 2>&1 &
xpid=$!
apid=""
cleanup() {
  [ -n "$apid" ] && kill "$apid" 2>/dev/null || true
  kill "$xpid" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$data"
}
trap cleanup EXIT
for _ in $(seq 1 50); do xdpyinfo -display "$disp" >/dev/null 2>&1 && break; sleep 0.1; done

start=$(date +%s.%N)
# Port 9 (discard) is closed: the app must start and show its screen even
# when Ollama is not running.
DISPLAY=$disp ATOLL_DATA=$data OLLAMA_HOST=http://127.0.0.1:9 LANG=en_US.UTF-8 "$bin" >"$out/app.log" 2>&1 &
apid=$!

ok=""
for _ in $(seq 1 90); do
  sleep 0.5
  kill -0 "$apid" 2>/dev/null || { echo "window-smoke: the app exited early:" >&2; tail -20 "$out/app.log" >&2; exit 1; }
  import -display "$disp" -window root "$out/window.png" 2>/dev/null || continue
  text=$(tesseract "$out/window.png" - 2>/dev/null || true)
  if grep -q "Atoll" <<<"$text" && grep -q "Knowledge" <<<"$text"; then ok=1; break; fi
done
end=$(date +%s.%N)
if [ -z "$ok" ]; then
  echo "window-smoke: FAIL — the window never showed Atoll's Knowledge screen; OCR read:" >&2
  echo "$text" | head -30 >&2
  echo "screenshot: $out/window.png; app log: $out/app.log" >&2
  exit 1
fi
sleep 1
import -display "$disp" -window root "$out/window.png"
# Memory: the app and every process it started (WebKit's web and network processes).
children() { pgrep -P "$1" | tr '\n' ' ' || true; }
pids="$apid $(children "$apid")"
for p in $(children "$apid"); do pids="$pids $(children "$p")"; done
rss=0
for p in $pids; do
  r=$(awk '/^VmRSS/ {print $2}' "/proc/$p/status" 2>/dev/null || echo 0)
  rss=$((rss + ${r:-0}))
done
secs=$(awk -v a="$start" -v b="$end" 'BEGIN{printf "%.2f", b-a}')
printf '{"startup_seconds": %.2f, "rss_mb": %d, "processes": %d}\n' "$secs" $((rss / 1024)) "$(wc -w <<<"$pids")" > "$out/metrics.json"
echo "window-smoke: ok — Knowledge screen visible after ${secs}s, $((rss / 1024)) MB across the app and WebKit; screenshot $out/window.png"
