#!/usr/bin/env bash
# Window smoke test: start the real desktop binary under Xvfb, take a
# screenshot, and read Atoll's own words off it with OCR, so a blank window,
# the Wails template or a crashed frontend all fail. Also records start-up time
# (launch until the Knowledge screen is readable) and memory (app + WebKit
# processes) in test-artifacts/window/metrics.json for `make bench`.
#
# Then it adds files the two ways a person does, in the real window, and
# checks with the command line on the same data folder that they were ingested:
#   - "Add files" is clicked (xdotool), the native GTK file chooser opens, the
#     file's path is typed into it (Ctrl+L, path, Enter);
#   - a file is dragged from another program (scripts/dragsource.py, a real
#     XDND drag source; xdotool alone cannot speak XDND) and dropped on the
#     drop zone, after a first file was dropped on the Chat screen, where it
#     must be refused without the window navigating away to it.
# Buttons are found by reading the screenshot (tesseract's word boxes), not by
# fixed coordinates. OCR words are compared fuzzily (see the awk below): case,
# punctuation around a word, digit-for-letter misreadings and, in longer
# words, one wrong letter do not fail a correct window.
#
# Every wait is on a condition with a deadline in seconds, generous because
# the machines that run this are busy (load 3-8 on 2 cores).
set -euo pipefail
cd "$(dirname "$0")/.."
bin=build/bin/atoll-desktop
out=test-artifacts/window
mkdir -p "$out"
cli=build/bin/atoll
py=/usr/bin/python3  # Debian's, where python3-gi is installed (not a pyenv shim)
fail() { echo "window-smoke: FAIL — $*" >&2; exit 1; }
[ -x "$bin" ] || { echo "window-smoke: $bin is missing; run make build" >&2; exit 1; }
[ -x "$cli" ] || { echo "window-smoke: $cli is missing; run make build" >&2; exit 1; }
for tool in Xvfb xdpyinfo import convert tesseract xdotool; do
  command -v "$tool" >/dev/null || fail "$tool is missing; run scripts/setup.sh test"
done
"$py" -c 'import gi; gi.require_version("Gtk", "3.0"); from gi.repository import Gtk' 2>/dev/null ||
  fail "python3-gi with GTK 3 is missing (python3-gi gir1.2-gtk-3.0); run scripts/setup.sh test"
data=$(mktemp -d)
files=$(mktemp -d)
disp=":$((100 + RANDOM % 200))"
Xvfb "$disp" -screen 0 1280x860x24 -nolisten tcp >/dev/null 2>&1 &
xpid=$!
apid=""
cleanup() {
  [ -n "$apid" ] && kill "$apid" 2>/dev/null || true
  kill "$xpid" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$data" "$files"
}
trap cleanup EXIT
# until SECONDS COMMAND...: runs COMMAND until it succeeds, for up to SECONDS
# (at least three tries); fails if it never does.
until_ok() {
  local end=$((SECONDS + $1)) tries=0
  shift
  while :; do
    "$@" && return 0
    tries=$((tries + 1))
    [ "$tries" -ge 3 ] && [ "$SECONDS" -ge "$end" ] && return 1
    sleep 0.2
  done
}
until_ok 60 xdpyinfo -display "$disp" >/dev/null 2>&1 || fail "Xvfb did not start on $disp"

# The fuzzy word comparison used on every OCR reading: like(word read,
# word wanted) in awk.
fuzzy_awk='
  function norm(s) {
    s = tolower(s)
    gsub(/0/, "o", s); gsub(/[1|!]/, "l", s); gsub(/5/, "s", s)
    gsub(/^[^[:alnum:]]+|[^[:alnum:]]+$/, "", s)
    return s
  }
  function lev(a, b,   i, j, la, lb, c, d, prev, cur) {
    la = length(a); lb = length(b)
    for (j = 0; j <= lb; j++) prev[j] = j
    for (i = 1; i <= la; i++) {
      cur[0] = i
      for (j = 1; j <= lb; j++) {
        c = prev[j - 1] + (substr(a, i, 1) != substr(b, j, 1))
        d = prev[j] + 1; if (d < c) c = d
        d = cur[j - 1] + 1; if (d < c) c = d
        cur[j] = c
      }
      for (j = 0; j <= lb; j++) prev[j] = cur[j]
    }
    return prev[lb]
  }
  # One misread letter allowed per five letters wanted; short words exactly.
  function like(got, want,   g, w) {
    g = norm(got); w = norm(want)
    if (g == "" || w == "") return 0
    return g == w || lev(g, w) <= int(length(w) / 5)
  }'

# ocr_has TEXT WORD...: every WORD is among the words of TEXT (fuzzily).
ocr_has() {
  local text=$1
  shift
  awk -v want="$*" "$fuzzy_awk"'
    BEGIN { n = split(want, w, " ") }
    { for (i = 1; i <= NF; i++) for (k = 1; k <= n; k++) if (!(k in found) && like($i, w[k])) found[k] = 1 }
    END { for (k = 1; k <= n; k++) if (!(k in found)) exit 1 }' <<<"$text"
}

# A knowledge base with one document, so the Knowledge screen opens on it with
# its Add buttons and drop zone. Each file carries a word found nowhere else.
echo "The lighthouse keeper logs the tides every morning." > "$files/seed.txt"
echo "Harbour pilots chart quayword currents before dawn." > "$files/chosen in dialog.txt"
echo "Ferrymen count dropword gulls at dusk." > "$files/dropped.txt"
echo "Stevedores stack strayword crates on the pier." > "$files/stray.txt"
OLLAMA_HOST=http://127.0.0.1:9 "$cli" --data "$data" ingest --kb smoke "$files/seed.txt" >/dev/null 2>&1 ||
  fail "atoll ingest of the seed file failed"

start=$(date +%s.%N)
# Port 9 (discard) is closed: the app must start and show its screen even
# when Ollama is not running.
DISPLAY=$disp ATOLL_DATA=$data OLLAMA_HOST=http://127.0.0.1:9 LANG=en_US.UTF-8 "$bin" >"$out/app.log" 2>&1 &
apid=$!

ok=""
text=""
deadline=$((SECONDS + 180))
while [ "$SECONDS" -lt "$deadline" ]; do
  sleep 0.5
  kill -0 "$apid" 2>/dev/null || { echo "window-smoke: the app exited early:" >&2; tail -20 "$out/app.log" >&2; exit 1; }
  import -display "$disp" -window root "$out/window.png" 2>/dev/null || continue
  # --psm 11 (sparse text): the default page layout analysis sometimes
  # merges the logo and the name beside it and reads "Atoll" as "©) Aa";
  # the name has also come out as "© atoll", hence ocr_has.
  text=$(tesseract "$out/window.png" - --psm 11 2>/dev/null || true)
  if ocr_has "$text" Atoll Knowledge; then ok=1; break; fi
done
end=$(date +%s.%N)
if [ -z "$ok" ]; then
  echo "window-smoke: FAIL — the window never showed Atoll's Knowledge screen; OCR read:" >&2
  echo "$text" | head -30 >&2
  echo "screenshot: $out/window.png; app log: $out/app.log" >&2
  exit 1
fi
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

# ---- adding files: the native dialog and drag and drop ----------------------
t0=$(date +%s.%N)
export DISPLAY=$disp
shot() { import -window root "$out/$1.png"; }

# locate IMAGE "PHRASE" [WxH+X+Y]: the centre of PHRASE (words on one line) in
# screen coordinates, read by tesseract from the image or a crop of it; tries
# two scales, dark on light then inverted (white text on the accent colour).
locate() {
  local img=$1 phrase=$2 crop=${3:-} ox=0 oy=0 r="" v tmp
  tmp=$(mktemp -d)
  if [ -n "$crop" ]; then
    ox=${crop#*+}; oy=${ox#*+}; ox=${ox%%+*}
    convert "$img" -crop "$crop" +repage "$tmp/in.png"
  else
    cp "$img" "$tmp/in.png"
  fi
  for v in 200 300 "200 -negate" "300 -negate"; do
    # shellcheck disable=SC2086
    convert "$tmp/in.png" -colorspace gray -resize "${v%% *}%" ${v#"${v%% *}"} "$tmp/x.png"
    r=$(tesseract "$tmp/x.png" - tsv 2>/dev/null | awk -F'\t' -v p="$phrase" -v ox="$ox" -v oy="$oy" -v s="${v%% *}" "$fuzzy_awk"'
      BEGIN { n = split(p, w, " ") }
      NR > 1 && $12 != "" {
        line = $3 "." $4 "." $5
        if (line != last) k = 0
        last = line
        if (!like($12, w[k + 1])) k = 0
        if (like($12, w[k + 1])) {
          k++
          if (k == 1) { l = $7; t = $8; b = $8 + $10 }
          if ($8 + $10 > b) b = $8 + $10
          if (k == n) { printf "%d %d\n", ox + (l + $7 + $9) * 50 / s, oy + (t + b) * 50 / s; exit }
        }
      }')
    [ -n "$r" ] && break
  done
  rm -rf "$tmp"
  echo "$r"
}

# find_on_screen "PHRASE" [crop] [seconds]: waits until the phrase is
# readable on screen: 60 s by default and at least three screenshots, since
# one reading can take seconds on a busy machine.
find_on_screen() {
  local phrase=$1 crop=${2:-} end=$((SECONDS + ${3:-60})) at="" tries=0
  while :; do
    shot find
    at=$(locate "$out/find.png" "$phrase" "$crop")
    [ -n "$at" ] && { echo "$at"; return 0; }
    tries=$((tries + 1))
    [ "$tries" -ge 3 ] && [ "$SECONDS" -ge "$end" ] && return 1
    sleep 0.5
  done
}

click() { xdotool mousemove "$1" "$2" click 1; }

# ingested WORD: the CLI, on the same data folder, finds the document holding WORD.
ingested() {
  OLLAMA_HOST=http://127.0.0.1:9 "$cli" --data "$data" search --kb smoke --json "$1" 2>/dev/null | grep -q '"source"'
}
wait_ingested() { until_ok 120 ingested "$1"; }

# drag FILE X Y: drags FILE from a GTK drag source placed over the sidebar and
# drops it at X,Y, moving the pointer in steps as a hand would (XDND needs
# motion events to find the target), and lets go only once the window has
# taken the drag and the pointer has held still for two seconds (dragsource.py
# prints "accepted"), so the drop completes inside WebKit as a person's does.
# (An earlier version let go after half a second, before WebKit had taken the
# drop on the Chat screen, so a bug there, reported as "the next drop on the
# drop zone opens the file", could not have been seen; with the full hold it
# has not reproduced in 7 runs, 3 of them beside stress-ng --cpu 2.)
drag() {
  local log="$out/drag.log" src
  "$py" scripts/dragsource.py "$1" 40 600 >"$log" 2>&1 &
  src=$!
  until_ok 60 grep -q ready "$log" || fail "the drag source did not start: $(cat "$log")"
  xdotool mousemove 90 630 mousedown 1
  # GTK starts a drag once the held pointer has moved past a threshold; on a
  # busy machine the press can be handled after the first moves, so the
  # pointer keeps stirring near the source until the drag has begun.
  local n=0
  stir() { n=$((n + 1)); xdotool mousemove $((90 + 12 * (n % 2))) $((630 + 12 * (n % 2))); grep -q begin "$log"; }
  until_ok 60 stir || fail "pressing and moving on the drag source started no drag: $(cat "$log")"
  for i in $(seq 1 20); do
    xdotool mousemove $((90 + ($2 - 90) * i / 20)) $((630 + ($3 - 630) * i / 20))
    sleep 0.03
  done
  xdotool mousemove "$2" "$3"
  until_ok 60 grep -q accepted "$log" || fail "the window never took the drag: $(cat "$log")"
  xdotool mouseup 1
  until_ok 60 grep -q drag-end "$log" || fail "the drag never ended: $(cat "$log")"
  kill "$src" 2>/dev/null || true
  wait "$src" 2>/dev/null || true
}

# Where to read (a crop reads better and faster than the whole screen): the
# sidebar, the top of the knowledge base's pane (drop zone), and the column
# of document names below it.
sidebar=215x300+0+20
pane=760x180+520+90
names=220x700+528+140

# (a) Add files → the native file chooser → a typed path → ingested.
at=$(find_on_screen "Add files" 640x90+640+20) || fail "no Add files button on the Knowledge screen; screenshot $out/find.png"
# shellcheck disable=SC2086
click $at
dialog=""
dialog_shown() { dialog=$(xdotool search --onlyvisible --name "^Add documents$" 2>/dev/null | head -1 || true); [ -n "$dialog" ]; }
until_ok 60 dialog_shown || { shot dialog; fail "clicking Add files opened no file dialog; screenshot $out/dialog.png"; }
# The path goes into the dialog's location entry (Ctrl+L). On a busy machine
# the entry has opened after the first typed characters were gone ("mp/tmp…"),
# so an attempt whose dialog stays open is typed again over the whole entry.
dialog_gone() { ! xdotool search --onlyvisible --name "^Add documents$" >/dev/null 2>&1; }
for attempt in 1 2 3 4; do
  xdotool windowfocus --sync "$dialog" 2>/dev/null || true
  xdotool key --clearmodifiers ctrl+l
  sleep 0.5
  xdotool key --clearmodifiers ctrl+a
  xdotool type --delay 15 "$files/chosen in dialog.txt"
  sleep 0.5
  shot dialog
  xdotool key Return
  until_ok 20 dialog_gone && break
  [ "$attempt" -eq 4 ] && fail "the file dialog stayed open after the path was typed four times; screenshot $out/dialog.png"
done
wait_ingested quayword || fail "the file chosen in the dialog was not ingested; dialog screenshot $out/dialog.png"

find_on_screen "chosen in dialog.txt" "$names" >/dev/null || fail "the Knowledge screen does not list the file chosen in the dialog; screenshot $out/find.png"

# (b) A file dropped where no drop zone is (the Chat screen) is refused, and
# the window does not navigate to it: the Knowledge screen still comes back.
at=$(find_on_screen "Chat" "$sidebar") || fail "no Chat item in the sidebar; screenshot $out/find.png"
# shellcheck disable=SC2086
click $at
find_on_screen "No agent yet" 1060x840+220+0 >/dev/null || fail "the Chat screen did not open; screenshot $out/find.png"
drag "$files/stray.txt" 760 450
at=$(find_on_screen "Knowledge" "$sidebar") ||
  fail "after a file was dropped on the Chat screen the interface is gone (did WebKit open the file?); screenshot $out/find.png"
# shellcheck disable=SC2086
click $at

# (c) A file dropped on the drop zone is ingested.
at=$(find_on_screen "Drop files here" "$pane") || fail "the Knowledge screen did not come back with its drop zone; screenshot $out/find.png"
# shellcheck disable=SC2086
drag "$files/dropped.txt" $at
grep -q "^sent file://" "$out/drag.log" || fail "the window never asked the drag source for the dropped file (is it a drop target?): $(cat "$out/drag.log")"
wait_ingested dropword || { shot drop; fail "the file dropped on the drop zone was not ingested; screenshot $out/drop.png"; }
ingested strayword && fail "the file dropped on the Chat screen was ingested"
find_on_screen "dropped.txt" "$names" >/dev/null || fail "the Knowledge screen does not list the dropped file; screenshot $out/find.png"
shot added
kill -0 "$apid" 2>/dev/null || fail "the app exited while files were added"
took=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}')
echo "window-smoke: ok — a file added through the native dialog and one dropped on the window were ingested; a file dropped outside the drop zone was refused (${took}s); screenshot $out/added.png"
