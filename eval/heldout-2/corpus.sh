#!/usr/bin/env bash
# Lays the second held-out evaluation corpus into DIR: manual pages rendered
# to plain text as `man` shows them (English and Simplified Chinese), and
# systemd's Chinese message catalog. Debian packages: tar, findutils, grep,
# dpkg, man-db (the renderer and the Chinese man(1)), passwd (Chinese
# passwd(1), shadow(5)), systemd (the catalog). A Debian machine keeps these
# unless man pages were excluded (as in slim container images).
set -eu
dir=${1:?usage: corpus.sh DIR}
mkdir -p "$dir"
render() { # SRC DEST
  [ -f "$1" ] || { echo "corpus.sh: $1 is missing (install its Debian package; see the comment above)" >&2; exit 1; }
  # man strips bold and underline itself when its output is not a terminal;
  # piping through col -b would cut wide characters at line ends.
  LANG=C.UTF-8 MANWIDTH=80 MAN_KEEP_FORMATTING= man -l "$1" 2>/dev/null > "$2"
}
render /usr/share/man/man1/tar.1.gz "$dir"/tar.1.txt
render /usr/share/man/man1/find.1.gz "$dir"/find.1.txt
render /usr/share/man/man1/grep.1.gz "$dir"/grep.1.txt
render /usr/share/man/man1/dpkg.1.gz "$dir"/dpkg.1.txt
render /usr/share/man/zh_CN/man1/man.1.gz "$dir"/man.zh_CN.1.txt
render /usr/share/man/zh_CN/man1/passwd.1.gz "$dir"/passwd.zh_CN.1.txt
render /usr/share/man/zh_CN/man5/shadow.5.gz "$dir"/shadow.zh_CN.5.txt
cp /usr/lib/systemd/catalog/systemd.zh_CN.catalog "$dir"/systemd.zh_CN.catalog.txt
