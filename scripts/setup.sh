#!/usr/bin/env bash
# Installs what Atoll needs on a Debian machine, and nothing that is already
# there: a second run prints nothing and takes a second or two.
#   scripts/setup.sh run    packages to build and open the desktop window
#   scripts/setup.sh test   the above plus what the tests need
set -euo pipefail
mode=${1:-run}
here=$(cd "$(dirname "$0")/.." && pwd)

# tesseract-ocr (+ English, Simplified Chinese, orientation) and
# poppler-utils (pdfimages, pdftoppm): OCR of scanned pages and photos.
pkgs=(libgtk-3-dev libwebkit2gtk-4.0-dev pkg-config gcc
  tesseract-ocr tesseract-ocr-eng tesseract-ocr-chi-sim tesseract-ocr-osd poppler-utils)
if [ "$mode" = test ]; then
  # xvfb + imagemagick + tesseract: the window smoke test (a real window,
  # a screenshot, and reading Atoll's own words off it); chromium: the
  # browser end-to-end tests; poppler-utils: the PDF reference (pdftotext);
  # libtasn1-doc, shared-mime-info: the two TeX-made PDFs it is compared on;
  # xdotool, python3-gi, gir1.2-gtk-3.0: the window test clicks, types into
  # the native file dialog, and drags a file from a GTK drag source;
  # fonts-noto-color-emoji: agent avatars in the screenshots (a desktop has
  # an emoji font; a bare server does not).
  pkgs+=(xvfb xauth imagemagick tesseract-ocr tesseract-ocr-eng chromium poppler-utils x11-utils libtasn1-doc shared-mime-info
    xdotool python3-gi gir1.2-gtk-3.0 fonts-noto-color-emoji
    # PDF producers the extraction is checked against (ingest/pdfcorpus_test.go),
    # and the generated scans of the OCR tests:
    fonts-noto-cjk fonts-wqy-zenhei fonts-dejavu-core groff wkhtmltopdf ghostscript img2pdf
    # make dist and its check (scripts/dist-test.sh): both WebKitGTK flavours,
    # nfpm's .deb/.rpm checked with lintian and rpm, installed and started:
    libwebkit2gtk-4.1-dev lintian rpm desktop-file-utils librsvg2-bin dpkg-dev binutils zip bash-completion dbus nsis p7zip-full
    # the hub's state engine and load balancer, started by the tests:
    postgresql postgresql-15 haproxy
    # the documents of the held-out retrieval sets (eval/README.md):
    dpkg liblzma-dev python3 vim-runtime gnupg-l10n man-db passwd systemd tar findutils grep)
fi

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

command -v go >/dev/null || { echo "setup: Go is missing; install Go 1.26 from https://go.dev/dl/ and put it on PATH" >&2; exit 1; }
command -v npm >/dev/null || { echo "setup: Node.js and npm are missing; install Node.js 20 (apt-get install nodejs npm)" >&2; exit 1; }

# The frontend's packages: reinstalled only when the lock file changed.
cd "$here/frontend"
stamp=node_modules/.atoll-lock.sha
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "setup: installing the frontend's npm packages"
  npm ci --no-audit --no-fund --loglevel=error >/dev/null
  echo "$want" > "$stamp"
fi

# The Wails CLI is a `tool` line in go.mod (go install ...wails@v2.9.2 fails on
# Go 1.26: it pins golang.org/x/tools v0.17.0, which no longer compiles);
# `go tool wails` builds it once into Go's cache.
cd "$here"
go mod download
