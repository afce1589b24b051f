"""The limited child that reads batch-prediction inputs (issue 22 item 1): ``python -m tlcore.export.input_child
ARGS_JSON``, started by :func:`tlcore.export.inputs.read_inputs_limited` through :func:`tlcore.data.sandbox.run`.

It sets its own address-space and CPU-time limits (``TL_PARSE_MEMORY_MB``, ``TL_PARSE_CPU_S``) before the input is
opened, imports only the readers (pandas, pyarrow, PIL; never torch), reads the CSV/JSONL/Parquet table, image, ZIP
or folder with the same checks as before (rows, cells, pixel budget), writes what it read into the folder it was
given (``inputs.json``; images one at a time into ``inputs.npy``) and prints one JSON line."""
from __future__ import annotations

import sys
from pathlib import Path

from tlcore.data.sandbox_child import serve


def _answer(a: dict) -> dict:
    from tlcore.export.inputs import read_inputs, save_inputs

    folder = Path(a["out"])
    inputs = read_inputs(a["path"], a["modality"], a.get("text_column"), int(a["decode_max_side"]),
                         image_file=folder / "inputs.npy")
    return save_inputs(inputs, folder)


if __name__ == "__main__":
    sys.exit(serve(sys.argv[1:], _answer))
