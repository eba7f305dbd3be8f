#!/usr/bin/env bash
# Lays the first held-out evaluation corpus into DIR: Debian documentation
# in English and Chinese. Debian packages: dpkg (triggers spec), liblzma-dev
# (xz file format), python3 (Debian Python policy), vim-runtime (the Chinese
# vimtutor), gnupg-l10n (GnuPG's Chinese help).
set -eu
dir=${1:?usage: corpus.sh DIR}
mkdir -p "$dir"
need() { [ -f "$1" ] || { echo "corpus.sh: $1 is missing (install its Debian package; see the comment above)" >&2; exit 1; }; }
for f in /usr/share/doc/dpkg/spec/triggers.txt /usr/share/doc/liblzma-dev/xz-file-format.txt.gz \
  /usr/share/doc/python3/python-policy.txt.gz /usr/share/vim/vim90/tutor/tutor.zh_cn.utf-8 /usr/share/gnupg/help.zh_CN.txt; do
  need "$f"
done
cp /usr/share/doc/dpkg/spec/triggers.txt "$dir"/
zcat /usr/share/doc/liblzma-dev/xz-file-format.txt.gz > "$dir"/xz-file-format.txt
zcat /usr/share/doc/python3/python-policy.txt.gz > "$dir"/python-policy.txt
cp /usr/share/vim/vim90/tutor/tutor.zh_cn.utf-8 /usr/share/gnupg/help.zh_CN.txt "$dir"/
