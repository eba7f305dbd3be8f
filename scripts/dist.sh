#!/usr/bin/env bash
# Release artefacts in dist/ (see `make dist` and `make dist-check`).
#
#   scripts/dist.sh icons   render build/appicon.svg to build/appicon.png,
#                           build/linux/icons/ and build/windows/icon.ico
#   scripts/dist.sh linux   .deb and .rpm for WebKitGTK 4.0 and 4.1 (amd64)
#   scripts/dist.sh cross   CLI archives for linux/darwin/windows x amd64/arm64,
#                           the Windows desktop exe and its NSIS installer
#   scripts/dist.sh cli-archives   only the CLI archives (the release workflow)
#
# VERSION and COMMIT come from the Makefile; the same pair goes into every
# binary (-X main.version -X main.commit), every package and the installer.
set -euo pipefail
cd "$(dirname "$0")/.."

VERSION=${VERSION:-0.1.0-dev}
COMMIT=${COMMIT:-$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)}
LDFLAGS="-X main.version=$VERSION -X main.commit=$COMMIT"
# Windows resources and NSIS want numbers only: 0.2.0-rc.1 -> 0.2.0.
NUMERIC=${VERSION%%[-+~]*}
DIST=dist
WORK=$DIST/.work
NFPM_MOD=github.com/goreleaser/nfpm/v2/cmd/nfpm@v2.45.2
MAINTAINER="Atoll maintainers <maintainers@atoll.invalid>"

die() {
	echo "dist: $*" >&2
	exit 1
}
need() { command -v "$1" >/dev/null || die "$1 is missing: install the Debian package $2 (scripts/setup.sh test does)"; }

[[ $NUMERIC =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || die "VERSION=$VERSION is not x.y.z (optionally followed by -something): give one such as VERSION=0.2.0"

nfpm() { go run "$NFPM_MOD" "$@"; }

icons() {
	need rsvg-convert librsvg2-bin
	local svg=build/appicon.svg s src
	rsvg-convert -w 1024 -h 1024 "$svg" -o build/appicon.png
	for s in 16 24 32 48 64 128 256 512; do
		# Up to 32 px the simplified drawing: the full one blurs there.
		src=$svg
		((s <= 32)) && src=build/appicon-small.svg
		mkdir -p "build/linux/icons/hicolor/${s}x${s}/apps"
		rsvg-convert -w "$s" -h "$s" "$src" -o "build/linux/icons/hicolor/${s}x${s}/apps/atoll.png"
	done
	mkdir -p build/linux/icons/hicolor/scalable/apps
	cp "$svg" build/linux/icons/hicolor/scalable/apps/atoll.svg
	# Windows picks the nearest size from the .ico: give it every usual one.
	/usr/bin/convert build/linux/icons/hicolor/{16x16,24x24,32x32,48x48,64x64,128x128,256x256}/apps/atoll.png build/windows/icon.ico
}

# Builds the CLI for one GOOS/GOARCH into $WORK/cli/<os>_<arch>/.
cli() {
	local os=$1 arch=$2 exe=atoll
	[[ $os == windows ]] && exe=atoll.exe
	mkdir -p "$WORK/cli/${os}_$arch"
	CGO_ENABLED=0 GOOS=$os GOARCH=$arch go build -trimpath -ldflags "$LDFLAGS -s -w" \
		-o "$WORK/cli/${os}_$arch/$exe" ./cmd/atoll
}

# The files both packages and archives carry besides the binaries.
docs() {
	local d=$WORK/docs
	rm -rf "$d" && mkdir -p "$d"
	gzip -9n -c docs/man/atoll.1 >"$d/atoll.1.gz"
	gzip -9n -c docs/man/atoll-desktop.1 >"$d/atoll-desktop.1.gz"
	# Debian reads a native package's changelog in its own format; the
	# project's CHANGELOG.md is shipped beside it for people.
	{
		echo "atoll (${VERSION//-/\~}) unstable; urgency=medium"
		echo
		echo "  * Release $VERSION (commit $COMMIT); see CHANGELOG.md.gz in this folder."
		echo
		echo " -- $MAINTAINER  $(date -R -d "@$(git log -1 --format=%ct 2>/dev/null || date +%s)")"
	} | gzip -9n >"$d/changelog.gz"
	gzip -9n -c CHANGELOG.md >"$d/CHANGELOG.md.gz"
	cat >"$d/copyright" <<EOF
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: atoll
Upstream-Contact: $MAINTAINER

Files: *
Copyright: 2026 The Atoll authors
License: proprietary
 No licence has been chosen yet: all rights reserved by the authors.
EOF
}

# Debian dependencies of a binary, as dpkg-shlibdeps reads them from the
# libraries it links (so the 4.0 and 4.1 builds each get their own).
deb_depends() {
	local bin tmp
	bin=$(realpath "$1")
	tmp=$(mktemp -d)
	mkdir -p "$tmp/debian"
	printf 'Source: atoll\n\nPackage: atoll\nArchitecture: any\n' >"$tmp/debian/control"
	(cd "$tmp" && dpkg-shlibdeps -O -e"$bin" 2>/dev/null) | sed -n 's/^shlibs:Depends=//p'
	rm -rf "$tmp"
}

# RPM dependencies: the shared objects the binary links, by soname, which
# every RPM distribution resolves whatever it calls the package.
rpm_depends() {
	objdump -p "$1" | awk '/NEEDED/ {print $2 "()(64bit)"}' | paste -sd, -
}

linux() {
	need dpkg-shlibdeps dpkg-dev
	need objdump binutils
	[[ -f frontend/dist/index.html ]] || die "frontend/dist is missing: run make frontend first"
	# dist/ holds one release: artefacts of an earlier VERSION go (the
	# build cache in dist/.work stays).
	find "$DIST" -maxdepth 1 -type f -delete
	docs
	cli linux amd64
	local flavour tags bin
	for flavour in 4.0 4.1; do
		tags=desktop,production
		[[ $flavour == 4.1 ]] && tags+=,webkit2_41
		pkg-config --exists "webkit2gtk-$flavour" ||
			die "webkit2gtk-$flavour is missing: install libwebkit2gtk-$flavour-dev"
		bin=$WORK/linux-webkit$flavour/atoll-desktop
		mkdir -p "$(dirname "$bin")"
		echo "dist: atoll-desktop for WebKitGTK $flavour"
		# The flags wails build uses for a production build (wails build
		# -dryrun), without its go.mod sync and bindings generation.
		# PIE as Debian's hardening asks (lintian: hardening-no-pie).
		CGO_ENABLED=1 go build -trimpath -buildmode=pie -tags "$tags" -ldflags "$LDFLAGS -w -s" -o "$bin" .

		# Debian and RPM both forbid "-" in an upstream version and sort
		# "~" before the release: 0.2.0-rc.1 is packaged as 0.2.0~rc.1.
		export ATOLL_VERSION=${VERSION//-/\~} ATOLL_WORK=$WORK ATOLL_DESKTOP_BIN=$bin
		ATOLL_DEB_DEPENDS=$(deb_depends "$bin")
		ATOLL_RPM_DEPENDS=$(rpm_depends "$bin")
		echo "dist:   Depends: $ATOLL_DEB_DEPENDS"
		# nfpm expands a variable into one list item: write one item per
		# dependency into this flavour's copy of the config.
		awk -v deb="$ATOLL_DEB_DEPENDS" -v rpm="$ATOLL_RPM_DEPENDS" '
			/[$][{]ATOLL_DEB_DEPENDS[}]/ { n = split(deb, a, /, */); for (i = 1; i <= n; i++) print "      - \"" a[i] "\""; next }
			/[$][{]ATOLL_RPM_DEPENDS[}]/ { n = split(rpm, a, /,/); for (i = 1; i <= n; i++) print "      - \"" a[i] "\""; next }
			{ print }' build/linux/nfpm.yaml >"$WORK/nfpm-$flavour.yaml"
		local stem=atoll_${VERSION}_amd64_webkit2gtk-$flavour
		nfpm pkg -f "$WORK/nfpm-$flavour.yaml" -p deb -t "$DIST/$stem.deb" >/dev/null
		nfpm pkg -f "$WORK/nfpm-$flavour.yaml" -p rpm -t "$DIST/atoll-${VERSION}.x86_64.webkit2gtk-$flavour.rpm" >/dev/null
	done
	archive linux amd64
	sums
}

# A CLI archive: the binary, the man page, completions, README and CHANGELOG.
archive() {
	local os=$1 arch=$2 name=atoll_${VERSION}_${1}_$2 stage
	stage=$WORK/stage/$name
	rm -rf "$stage" && mkdir -p "$stage/completions"
	cp "$WORK/cli/${os}_$arch"/atoll* "$stage/"
	cp README.md CHANGELOG.md docs/man/atoll.1 "$stage/"
	cp build/completions/atoll.bash build/completions/_atoll build/completions/atoll.fish "$stage/completions/"
	if [[ $os == windows ]]; then
		(cd "$WORK/stage" && rm -f "../../$name.zip" && zip -qr -X "../../$name.zip" "$name")
	else
		tar -C "$WORK/stage" --owner=0 --group=0 --sort=name -czf "$DIST/$name.tar.gz" "$name"
	fi
}

sums() {
	(cd "$DIST" && find . -maxdepth 1 -type f ! -name SHA256SUMS -printf '%f\n' | sort | xargs -r sha256sum >SHA256SUMS)
	echo "dist: $(($(wc -l <"$DIST/SHA256SUMS"))) files in $DIST/, checksums in $DIST/SHA256SUMS"
}

cli_archives() {
	docs
	local os arch
	for os in linux darwin windows; do
		for arch in amd64 arm64; do
			echo "dist: atoll CLI for $os/$arch"
			cli "$os" "$arch"
			archive "$os" "$arch"
		done
	done
	sums
}

cross() {
	need makensis nsis
	[[ -f frontend/dist/index.html ]] || die "frontend/dist is missing: run make frontend first"
	cli_archives
	windows
	sums
}

# The Windows desktop exe and installer. Wails on Windows needs no cgo, so
# both cross-build here; wails build writes the exe's icon, manifest and
# version resources from build/windows/ and, with -nsis, renders
# wails_tools.nsh and the WebView2 bootstrapper and runs makensis on
# build/windows/installer/project.nsi. The installer takes the CLI from
# build/bin/atoll.exe when it is there.
windows() {
	# wails reads the version from wails.json only: set it for this build
	# and put the file back however the build ends.
	cp wails.json "$WORK/wails.json.orig"
	trap 'cp "$WORK/wails.json.orig" wails.json' EXIT
	sed -i -E "s/(\"productVersion\": *\")[^\"]*\"/\1$NUMERIC\"/" wails.json
	mkdir -p build/bin
	cp "$WORK/cli/windows_amd64/atoll.exe" build/bin/atoll.exe
	rm -f build/bin/Atoll-*-setup.exe
	echo "dist: atoll-desktop.exe and its installer"
	go tool wails build -platform windows/amd64 -nsis -s -m -skipbindings -trimpath -v 1 \
		-ldflags "$LDFLAGS" -o atoll-desktop.exe >"$WORK/wails-windows.log" 2>&1 ||
		{ tail -n 30 "$WORK/wails-windows.log" >&2; die "wails build for Windows failed (log: $WORK/wails-windows.log)"; }
	cp "$WORK/wails.json.orig" wails.json
	trap - EXIT
	local setup
	setup=$(ls build/bin/Atoll-*-setup.exe 2>/dev/null | head -1)
	[[ -n $setup ]] || { tail -n 30 "$WORK/wails-windows.log" >&2; die "makensis wrote no installer (log: $WORK/wails-windows.log)"; }
	cp build/bin/atoll-desktop.exe "$DIST/atoll-desktop_${VERSION}_windows_amd64.exe"
	mv "$setup" "$DIST/Atoll-${VERSION}-windows-amd64-setup.exe"
}

mkdir -p "$DIST" "$WORK"
case "${1:-}" in
icons) icons ;;
linux) linux ;;
cross) cross ;;
cli-archives) cli_archives ;;
*) die "usage: scripts/dist.sh icons|linux|cross|cli-archives" ;;
esac
