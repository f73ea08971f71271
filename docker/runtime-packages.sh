#!/bin/bash
# Prints, one per line, the Debian packages that hold the shared libraries
# the given binaries load, as ldd resolves them on this system.
#
# The image's build stage runs this on the binaries it built, and the
# runtime stage installs exactly that list. A list written by hand would go
# stale the day a library is linked or Debian renames a soname package
# (libgrpc++1.51, libprotobuf32, ...); derived here, it cannot, because the
# build stage and the runtime stage use the same Debian release. It fails
# when a library is missing or no package owns it, rather than produce an
# image that dies at start with "cannot open shared object file".
set -euo pipefail

[ $# -ge 1 ] || { echo "usage: $0 BINARY..." >&2; exit 2; }

libs=()
for bin in "$@"; do
  # ldd says "not found" for a missing library and still exits 0.
  if ! out=$(ldd "$bin"); then
    echo "$0: ldd $bin failed" >&2
    exit 1
  fi
  if grep -q 'not found' <<<"$out"; then
    echo "$0: $bin: $(grep 'not found' <<<"$out" | tr -s ' \t' ' ')" >&2
    exit 1
  fi
  while read -r lib; do
    libs+=("$lib")
  done < <(awk '$2 == "=>" && $3 ~ /^\// { print $3 }' <<<"$out")
done
mapfile -t libs < <(printf '%s\n' "${libs[@]}" | sort -u)

# dpkg records the path a package shipped, which may be the one ldd printed,
# its target, or the other side of the /usr merge: ask for all of them, in
# one dpkg-query (each call reads the whole database).
candidates() {
  local lib=$1
  printf '%s\n' "$lib" "$(readlink -f "$lib")" "/usr$lib" "${lib#/usr}"
}
declare -A owner=()
while IFS= read -r line; do
  # "libfoo1:amd64: /usr/lib/x86_64-linux-gnu/libfoo.so.1"; diversions and
  # errors are not owners.
  case "$line" in diversion*) continue ;; esac
  pkg=${line%%: /*}
  path=${line#*: }
  pkg=${pkg%%,*}
  owner[$path]=${pkg%%:*}
done < <(for lib in "${libs[@]}"; do candidates "$lib"; done | sort -u \
           | xargs dpkg-query -S 2>/dev/null || true)

# Nothing is printed unless every library has its package: a partial list
# would build an image that lacks the rest.
packages=()
for lib in "${libs[@]}"; do
  pkg=
  while IFS= read -r path; do
    if [ -n "${owner[$path]:-}" ]; then
      pkg=${owner[$path]}
      break
    fi
  done < <(candidates "$lib")
  [ -n "$pkg" ] || { echo "$0: no Debian package holds $lib" >&2; exit 1; }
  packages+=("$pkg")
done
printf '%s\n' "${packages[@]}" | sort -u
