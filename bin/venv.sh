#!/usr/bin/env bash
# Sourced by bin/run and bin/test: make sure .venv exists and holds this project (and, with
# PROPDESK_EXTRAS=test, its test tools), reinstalling only when pyproject.toml changed.
VENV="$PWD/.venv"
PY="$VENV/bin/python"
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1
extras="${PROPDESK_EXTRAS:-}"

header() { printf '\n==> %s\n' "$*"; }

if ! "$PY" -c 'import sys; assert sys.version_info >= (3, 11)' 2>/dev/null; then
    header "creating .venv with ${PYTHON:-python3}"
    "${PYTHON:-python3}" -m venv --clear "$VENV"
fi

stamp="$VENV/.propdesk-installed${extras:+-$extras}"
want="$(sha256sum pyproject.toml | cut -d' ' -f1)"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ] \
    || ! "$PY" -c 'import importlib.metadata as m; m.version("propdesk")' 2>/dev/null; then
    header "pip install -e '.${extras:+[$extras]}'"
    rm -f "$stamp"
    "$PY" -m pip install -q -e ".${extras:+[$extras]}"
    echo "$want" >"$stamp"
fi

export VIRTUAL_ENV="$VENV" PATH="$VENV/bin:$PATH"
