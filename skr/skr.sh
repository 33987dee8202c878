#!/bin/sh
# skr.sh - container entry point, a drop-in for the Microsoft SKR sidecar's /skr.sh
# (skr-sidecar.md §1.1): maps the environment to flags, each only when non-empty:
#   SkrSideCarArgs (else $1) -> -base64      Port (else $2) -> -port
#   LogFile -> -logfile    LogLevel -> -loglevel    ServerType -> -server_type
# then runs skr and writes "1" (exit 0) or "0" (failure) into ./result. The script itself exits 0
# either way, like the original, so that the container group sees a clean exit.
# Our addition: SKR_BIN selects the binary (default: skr next to this script, else /bin/skr).
# Values are passed as single arguments (no word splitting), unlike the original.

if [ -z "${SkrSideCarArgs}" ]; then
  SkrSideCarArgs=$1
fi
if [ -z "${Port}" ]; then
  Port=$2
fi

set --
if [ -n "${SkrSideCarArgs}" ]; then
  set -- "$@" -base64 "${SkrSideCarArgs}"
fi
echo "SkrSideCarArgs = ${SkrSideCarArgs}"
echo "Port = ${Port}"
if [ -n "${Port}" ]; then
  set -- "$@" -port "${Port}"
fi
if [ -n "${LogFile}" ]; then
  set -- "$@" -logfile "${LogFile}"
fi
if [ -n "${LogLevel}" ]; then
  set -- "$@" -loglevel "${LogLevel}"
fi
if [ -n "${ServerType}" ]; then
  set -- "$@" -server_type "${ServerType}"
fi
echo "CmdlineArgs = $*"

if [ -z "${SKR_BIN}" ]; then
  SKR_BIN=/bin/skr
  here=$(dirname "$0")
  if [ -x "${here}/skr" ] && [ ! -d "${here}/skr" ]; then
    SKR_BIN="${here}/skr"
  fi
fi

if "${SKR_BIN}" "$@"; then
  echo "1" > result
else
  echo "0" > result
fi
exit 0
