"""Not a package: this file is here so that a source checkout is never imported *as* archgym.

A clone in a folder named ``archgym``, with Python run from the folder above it, would otherwise
be imported as an empty namespace package named ``archgym`` (the current directory comes first
on ``sys.path``), and ``gymnasium.make("archgym/…")`` would fail later with a puzzling
NamespaceNotFound or AttributeError. This says why at once.
"""

from pathlib import Path

if __name__ == "archgym":  # imported as the package (tools that merely scan the checkout pass)
    raise ImportError(
        f"'import archgym' found the source checkout {Path(__file__).resolve().parent}, not the "
        "archgym package: the current directory (or PYTHONPATH) holds the clone as a folder named "
        "'archgym'. Run Python from inside the checkout or from another directory (after "
        "pip install -e <checkout>), or clone into a folder with another name."
    )
