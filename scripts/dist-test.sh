#!/usr/bin/env bash
# Checks what `make dist` (and `make dist-check`) wrote to dist/:
#   each .deb: lintian; apt-get install; desktop-file-validate; the window
#   started from the menu entry's Exec line under Xvfb and read by OCR (the
#   first-run screen of an empty data folder), with its icon and WM_CLASS;
#   a second start hands over to the first window; the user's data made by
#   the installed CLI; uninstall (purge); the data still there.
#   each .rpm: its requirements and files.
#   the Windows installer, when there is one: its contents by `7z l`.
# Needs root (apt-get), lintian, desktop-file-utils, xvfb, imagemagick,
# tesseract-ocr, xdotool, x11-utils, dbus, rpm, p7zip-full, bash-completion.
# Prints "N passed, N failed" last; exits 1 on any failure.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

DIST=${DIST:-dist}
out=${OUT:-test-artifacts/dist}
mkdir -p "$out"
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "dist-test: ok   $*"; }
bad() { fail=$((fail + 1)); echo "dist-test: FAIL $*" >&2; }
check() { # check "what" command...
	local what=$1
	shift
	if "$@" >"$out/last.log" 2>&1; then ok "$what"; else bad "$what"; sed 's/^/    /' "$out/last.log" | tail -20 >&2; fi
}

shopt -s nullglob
debs=("$DIST"/atoll_*.deb)
rpms=("$DIST"/atoll-*.rpm)
setups=("$DIST"/Atoll-*-setup.exe)
[ ${#debs[@]} -gt 0 ] || { echo "dist-test: no .deb in $DIST/: run make dist first" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "dist-test: installing packages needs root: run as root or with sudo" >&2; exit 1; }
if dpkg -s atoll >/dev/null 2>&1; then
	echo "dist-test: the package atoll is installed on this machine already; remove it first (apt-get purge atoll)" >&2
	exit 1
fi

apt() { DEBIAN_FRONTEND=noninteractive apt-get -y -q -o DPkg::Lock::Timeout=600 "$@"; }

# words_on_screen PNG WORD...: every word is read, ignoring case and allowing
# one OCR slip in words of five letters or more.
words_on_screen() {
	local img=$1
	shift
	tesseract "$img" - --psm 11 2>/dev/null | python3 -c '
import sys, difflib
seen = [w.strip(".,:;!?()\"'"'"'").lower() for w in sys.stdin.read().split()]
def found(want):
    want = want.lower()
    return any(w == want or (len(want) >= 5 and difflib.SequenceMatcher(None, w, want).ratio() >= 0.8) for w in seen)
missing = [w for w in sys.argv[1:] if not found(w)]
if missing:
    print("not read:", " ".join(missing), "| read:", " ".join(seen[:60]))
    sys.exit(1)
' "$@"
}

xvfb_up() {
	local n
	for n in $(seq 90 130); do
		[ -e "/tmp/.X11-unix/X$n" ] && continue
		Xvfb ":$n" -screen 0 1280x860x24 -nolisten tcp >/dev/null 2>&1 &
		xpid=$!
		for _ in $(seq 1 100); do
			[ -e "/tmp/.X11-unix/X$n" ] && { disp=":$n"; return 0; }
			kill -0 "$xpid" 2>/dev/null || break
			sleep 0.1
		done
	done
	return 1
}

# The desktop entry's Exec line without its field codes (%f, %U, ...).
exec_line() { sed -n 's/^Exec=//p' "$1" | head -1 | sed -E 's/ ?%[fFuUdDnNickvm]//g'; }

# descendants PID: the process's children, grandchildren, ... (WebKit's helpers).
descendants() {
	local c
	for c in $(pgrep -P "$1"); do
		echo "$c"
		descendants "$c"
	done
}

run_app() {
	env -i PATH=/usr/bin:/bin HOME="$home" DISPLAY="$disp" DBUS_SESSION_BUS_ADDRESS="$bus" \
		LANG=en_US.UTF-8 OLLAMA_HOST=http://127.0.0.1:9 sh -c "$exec"
}

window_test() {
	local flavour=$1 exec apid pid2 wid text="" seen="" i kids
	exec=$(exec_line /usr/share/applications/atoll.desktop)
	[ -n "$exec" ] || { bad "$flavour: Exec line in atoll.desktop"; return; }
	xvfb_up || { bad "$flavour: Xvfb did not start"; return; }
	# A session bus: Wails' single-instance lock talks over D-Bus.
	dbus-daemon --session --fork --print-address=3 --print-pid=4 3>"$out/bus" 4>"$out/bus.pid" || { bad "$flavour: dbus"; return; }
	bus=$(head -1 "$out/bus")
	run_app >"$out/app-$flavour.log" 2>&1 &
	apid=$!
	for i in $(seq 1 120); do
		sleep 0.5
		kill -0 "$apid" 2>/dev/null || break
		import -display "$disp" -window root "$out/window-$flavour.png" 2>/dev/null || continue
		# The first-run screen of an empty data folder, with no Ollama.
		if text=$(words_on_screen "$out/window-$flavour.png" Atoll needs Ollama); then seen=1; break; fi
	done
	if [ -n "$seen" ] && kill -0 "$apid" 2>/dev/null; then
		ok "$flavour: '$exec' from the menu entry shows the first-run screen (OCR after $i screenshots)"
	else
		bad "$flavour: the window from '$exec' never showed the first-run screen: ${text:-the app exited}"
		tail -5 "$out/app-$flavour.log" >&2
	fi
	# GTK's hidden group leader has the class too: look at every such window.
	local icon=""
	for wid in $(DISPLAY=$disp xdotool search --class atoll-desktop 2>/dev/null); do
		icon=$(DISPLAY=$disp xprop -id "$wid" _NET_WM_ICON 2>/dev/null | grep -o 'Icon ([0-9]* x [0-9]*)' | head -1)
		[ -n "$icon" ] && break
	done
	if [ -n "$icon" ]; then
		ok "$flavour: the window has WM_CLASS atoll-desktop and its icon (_NET_WM_ICON: $icon)"
	else
		bad "$flavour: no window of class atoll-desktop with an icon"
	fi
	# A second start hands over to the open window and leaves.
	run_app >"$out/second-$flavour.log" 2>&1 &
	pid2=$!
	for i in $(seq 1 120); do
		kill -0 "$pid2" 2>/dev/null || break
		sleep 0.5
	done
	# Wails' hand-over over D-Bus ends the second process with status 1, so
	# the proof is the first window's own line that it was asked to show.
	if kill -0 "$pid2" 2>/dev/null; then
		bad "$flavour: a second start is still running after 60 s: it opened another window"
		# shellcheck disable=SC2046 # one process id a word
		kill $(descendants "$pid2") "$pid2" 2>/dev/null
	elif kill -0 "$apid" 2>/dev/null && grep -q "started again" "$out/app-$flavour.log"; then
		ok "$flavour: a second start hands over to the open window (its log: started again) and leaves"
	else
		bad "$flavour: the second start did not reach the open window, or that window went away"
		tail -5 "$out/second-$flavour.log" >&2
	fi
	kids=$(descendants "$apid")
	kill $kids "$apid" 2>/dev/null
	wait "$apid" 2>/dev/null
	kill "$(cat "$out/bus.pid")" "$xpid" 2>/dev/null
	wait "$xpid" 2>/dev/null
}

for deb in "${debs[@]}"; do
	name=$(basename "$deb" .deb)
	flavour=${name##*_}
	check "$flavour: lintian clean (errors and warnings; overrides justified in build/linux/lintian-overrides)" \
		lintian --fail-on error,warning "$deb"
	check "$flavour: apt-get install ./$(basename "$deb")" apt install "./$deb"
	check "$flavour: Depends resolved, atoll-desktop links every library" \
		bash -c '! ldd /usr/bin/atoll-desktop | grep -q "not found"'
	check "$flavour: desktop-file-validate" desktop-file-validate /usr/share/applications/atoll.desktop
	check "$flavour: icons, man pages, completions in place" bash -c '
		for f in /usr/share/icons/hicolor/{16x16,32x32,48x48,256x256}/apps/atoll.png /usr/share/icons/hicolor/scalable/apps/atoll.svg \
			/usr/share/man/man1/atoll.1.gz /usr/share/man/man1/atoll-desktop.1.gz /usr/share/bash-completion/completions/atoll; do
			[ -s "$f" ] || { echo "missing $f"; exit 1; }
		done
		man -l /usr/share/man/man1/atoll.1.gz 2>&1 | grep -q "ingest" || { echo "man page unreadable"; exit 1; }'
	check "$flavour: bash completes \"atoll ag\" to agent and its subcommands" bash -c '
		source /usr/share/bash-completion/bash_completion && source /usr/share/bash-completion/completions/atoll || exit 1
		COMP_WORDS=(atoll ag); COMP_CWORD=1; COMP_LINE="atoll ag"; COMP_POINT=8; _atoll atoll ag atoll
		[ "${COMPREPLY[*]}" = agent ] || { echo "atoll ag -> ${COMPREPLY[*]}"; exit 1; }
		COMP_WORDS=(atoll agent ""); COMP_CWORD=2; COMP_LINE="atoll agent "; COMP_POINT=12; _atoll atoll "" agent
		[[ " ${COMPREPLY[*]} " == *" create "* ]] || { echo "atoll agent -> ${COMPREPLY[*]}"; exit 1; }'

	home=$(mktemp -d)
	window_test "$flavour"

	# The user's data, made with the installed CLI (keyword search works with no Ollama).
	printf 'The lagoon cake costs 12 euros.\n' >"$home/cake.txt"
	check "$flavour: atoll (CLI) ingests into the user's data folder" \
		env HOME="$home" OLLAMA_HOST=http://127.0.0.1:9 atoll ingest --kb mine "$home/cake.txt"
	before=$(cd "$home/.local/share" 2>/dev/null && find atoll -type f | sort | xargs -r sha256sum)
	check "$flavour: apt-get purge atoll" apt purge atoll
	check "$flavour: uninstalled (no /usr/bin/atoll-desktop, no menu entry)" \
		bash -c '[ ! -e /usr/bin/atoll-desktop ] && [ ! -e /usr/share/applications/atoll.desktop ]'
	after=$(cd "$home/.local/share" 2>/dev/null && find atoll -type f | sort | xargs -r sha256sum)
	if [ -n "$before" ] && [ "$before" = "$after" ]; then
		ok "$flavour: the user's data stays after uninstalling ($(wc -l <<<"$after") files unchanged)"
	else
		bad "$flavour: the user's data changed or went away on uninstall"
	fi
	rm -rf "$home"
done

for rpm in "${rpms[@]}"; do
	flavour=$(basename "$rpm" .rpm | grep -o 'webkit2gtk-[0-9.]*$')
	check "rpm $flavour: requires its WebKitGTK by soname" bash -c "rpm -qpR '$rpm' | grep -q 'libwebkit2gtk-${flavour#webkit2gtk-}.so'"
	check "rpm $flavour: desktop entry, icons, man page, binaries" bash -c "
		l=\$(rpm -qpl '$rpm')
		for f in /usr/bin/atoll /usr/bin/atoll-desktop /usr/share/applications/atoll.desktop \
			/usr/share/icons/hicolor/48x48/apps/atoll.png /usr/share/man/man1/atoll.1.gz; do
			grep -qx \"\$f\" <<<\"\$l\" || { echo missing \$f; exit 1; }
		done"
done

for setup in "${setups[@]}"; do
	version=$(basename "$setup" | sed -E 's/^Atoll-(.*)-windows-.*/\1/')
	7z l "$setup" >"$out/setup-contents.txt" 2>&1
	check "Windows installer holds the desktop exe, the CLI, the icon, the uninstaller and the WebView2 bootstrapper (7z l)" bash -c "
		for f in atoll-desktop.exe atoll.exe atoll.ico uninstall.exe MicrosoftEdgeWebview2Setup.exe; do
			grep -q \"\$f\" '$out/setup-contents.txt' || { echo missing \$f; cat '$out/setup-contents.txt'; exit 1; }
		done"
	check "Windows installer says version ${version%%[-+~]*}" bash -c "strings -el '$setup' | grep -A1 -x ProductVersion | grep -qx '${version%%[-+~]*}'"
	for exe in "$DIST"/atoll-desktop_*_windows_*.exe; do
		check "$(basename "$exe"): icon, manifest and version ${version%%[-+~]*} in its resources" bash -c "
			7z l '$exe' | grep -q 'rsrc/.*/ICON/' && 7z l '$exe' | grep -q 'rsrc/.*/MANIFEST/' &&
			strings -el '$exe' | grep -A1 -x ProductVersion | grep -qx '${version%%[-+~]*}'"
	done
done
# One version and commit in every desktop binary (the Windows exe included),
# as the deb's changelog names them.
commit=$(dpkg-deb --fsys-tarfile "${debs[0]}" | tar -xO ./usr/share/doc/atoll/changelog.gz | zcat | grep -o 'commit [0-9a-f]*' | cut -d' ' -f2)
check "every desktop binary carries commit ${commit:-?}" bash -c "
	[ -n '$commit' ] || exit 1
	for deb in ${debs[*]}; do
		dpkg-deb --fsys-tarfile \"\$deb\" | tar -xO ./usr/bin/atoll-desktop | grep -qa '$commit' || { echo \"\$deb: another commit\"; exit 1; }
	done
	for exe in $DIST/atoll-desktop_*_windows_*.exe; do
		[ -e \"\$exe\" ] || continue
		grep -qa '$commit' \"\$exe\" || { echo \"\$exe: another commit\"; exit 1; }
	done"

if [ -f "$DIST/SHA256SUMS" ]; then
	check "SHA256SUMS matches every file" bash -c "cd '$DIST' && sha256sum -c --quiet SHA256SUMS"
fi

echo "dist-test: $pass passed, $fail failed"
[ "$fail" = 0 ]
