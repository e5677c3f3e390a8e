#!/bin/sh
# Example qod plugin in POSIX sh: measures the size of a file or folder.
#
# Protocol v1: the context arrives as one JSON document on stdin; the result
# is one JSON object on stdout; anything for people goes to stderr.
# POSIX sh has no JSON parser, so this example reads the one flat string
# field it needs with sed; qod writes the context as compact JSON.
set -u

context=$(cat)
path=$(printf '%s' "$context" | sed -n 's/.*"config":{[^}]*"path":"\([^"]*\)".*/\1/p')
workspace=$(printf '%s' "$context" | sed -n 's/.*"workspace":"\([^"]*\)".*/\1/p')
[ -n "$path" ] || path=.
case "$path" in
  /*) target=$path ;;
  *) target="${workspace:-.}/$path" ;;
esac

error() {
  printf '{"protocol":1,"status":"error","error":{"kind":"%s","message":"%s"}}\n' "$1" "$2"
  exit 0
}

[ -e "$target" ] || error measurement-failed "path \`$path\` does not exist under the workspace; set \`with: {path: ...}\` to an existing file or folder"

echo "dir-size: measuring $target" >&2
files=$(find "$target" -type f | wc -l | tr -d ' ')
bytes=$(find "$target" -type f -exec cat {} + 2>/dev/null | wc -c | tr -d ' ')

printf '{"protocol":1,"status":"ok","metrics":[{"name":"bytes","value":%s,"unit":"B"},{"name":"files","value":%s}],"summary":"%s bytes in %s files under %s"}\n' \
  "$bytes" "$files" "$bytes" "$files" "$path"
