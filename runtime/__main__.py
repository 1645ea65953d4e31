"""``python -m runtime``: the device command line. See :mod:`runtime._cli`."""

from ._cli import main

if __name__ == "__main__":
    raise SystemExit(main())
