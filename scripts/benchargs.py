"""benchargs.py - the command line every bench_*.py script shares: --quick,
and `arg(NAME, DEFAULT)` for an option's value (converted to DEFAULT's type)."""
import sys

QUICK = "--quick" in sys.argv


def arg(name, default):
    if name in sys.argv:
        return type(default)(sys.argv[sys.argv.index(name) + 1])
    return default
