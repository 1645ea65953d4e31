"""The kit's ``README.md``: what the operator of an air-gapped device needs, and nothing about the dev side."""

from __future__ import annotations

from collections.abc import Sequence

from .targets import GLIBC_MINIMUM, Target

__all__ = ["operator_readme"]


def operator_readme(
    requirement: str, model: str, version: str, targets: Sequence[Target], signed: bool, top: str
) -> str:
    """The README of a kit installing ``requirement`` and ``model`` ``version`` on ``targets``."""
    glibc = ".".join(map(str, GLIBC_MINIMUM))
    rows = "\n".join(f"| `wheels/{t.name}/` | {t.platform} | CPython {t.python} |" for t in targets)
    trust = (
        "The bundle is signed (`model.sig`). Put the signer's public key into "
        "`/etc/factory-edge/trusted-keys/` **before** installing, and the runtime loads it only if every "
        "file is exactly as signed. The kit does not carry the key: trust comes from you, not from the kit."
        if signed
        else "The bundle is not signed: `runtime info` says so. Its sha256 catches damage, not tampering."
    )
    return f"""# factory-edge offline kit: {model} {version}

Everything a device without network access needs to predict with `{model}` {version}: the runtime
(`{requirement}`), every wheel it depends on, the bundle, and `install.sh`.

## Requirements on the device

- Linux with glibc {glibc} or newer (Debian 10+, Ubuntu 18.10+, RHEL 8+), bash, sha256sum (coreutils)
- `python3` of a version below, with its `venv` module (Debian and Ubuntu: `apt-get install python3-venv`)

| wheels | platform | Python |
|---|---|---|
{rows}

## Install

```bash
tar xzf kit.tar.gz && cd {top}
./install.sh /opt/factory-edge            # PYTHON=python3.11 ./install.sh ... picks the interpreter
/opt/factory-edge/venv/bin/python -m runtime predict /opt/factory-edge/models/{model} \\
    --input parts.csv --output predictions.csv
```

`install.sh PREFIX`:

1. checks every file against `SHA256SUMS` and refuses files the sums do not list;
2. picks `wheels/<platform>-cp<version>/` for this machine's `python3` (or `$PYTHON`) and refuses a
   platform, Python or glibc the kit has no wheels for, saying which;
3. creates `PREFIX/venv` (or reuses it when it runs the same Python);
4. installs with `pip install --no-index --find-links wheels/<target>`: no network, no pip
   configuration, no `PIP_*` variables, no cache; the kit is the only source;
5. copies the bundle to `PREFIX/models/{model}/{version}/` (an installed version is never overwritten)
   and points `PREFIX/models/{model}/CURRENT` at it;
6. runs `runtime info` on it with the installed runtime: the bundle's hash and golden cases are
   checked on this machine, and a failure there fails the install.

Re-running it is safe. To remove everything: `rm -r PREFIX`.

## Trust

{trust}
"""
