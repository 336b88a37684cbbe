"""``ens-image-operator crds``: print the CRDs generated from the models, or write them to a folder."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HELP = "print the CustomResourceDefinitions generated from the models"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--output-dir",
        type=Path,
        default=None,
        help="write one <plural>.<group>.yaml file per kind into this folder instead of printing",
    )


def main(args: argparse.Namespace) -> int:
    from ens_image_operator.api import crdgen

    if args.output_dir is None:
        sys.stdout.write(crdgen.render_all())
        return 0
    for path in crdgen.write_all(args.output_dir):
        print(path)
    return 0
