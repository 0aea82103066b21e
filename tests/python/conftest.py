"""Makes the DSL package under python/ importable without installing it."""

import os
import pathlib
import sys

SRC = pathlib.Path(os.environ.get("LOADPILOT_SRC") or pathlib.Path(__file__).resolve().parents[2])
sys.path.insert(0, str(SRC / "python"))
