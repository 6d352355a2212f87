"""What the network registry says of one network name, for the Makefile (one line, no log).

    python -m aerial_landuse.tools.network NAME --pipelines    # ingest,finetune | pretrained
    python -m aerial_landuse.tools.network NAME --file DATASET # its file under the networks folder
    python -m aerial_landuse.tools.network NAME --needs-torch  # exit 0 when making it needs torch

An unknown name exits 2 with the registry's message (what names exist).
"""

from __future__ import annotations

import argparse
import sys

from aerial_landuse.core.networks.registry import (
    making_pipelines,
    needs_torch,
    network_file,
    network_spec,
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m aerial_landuse.tools.network")
    parser.add_argument("name")
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--pipelines", action="store_true", help="the pipelines that make it")
    what.add_argument("--file", metavar="DATASET", help="its ONNX file under the networks folder")
    what.add_argument(
        "--needs-torch", action="store_true", help="exit 0 when making it needs torch"
    )
    args = parser.parse_args(argv)
    try:
        network_spec(args.name)
    except ValueError as exc:
        print(exc, file=sys.stderr)  # noqa: T201
        return 2
    if args.needs_torch:
        return 0 if needs_torch(args.name) else 1
    print(making_pipelines(args.name) if args.pipelines else network_file(args.name, args.file))  # noqa: T201
    return 0


if __name__ == "__main__":
    sys.exit(main())
