"""Regenerate data/purchase.csv, the synthetic purchase set (see data/README.md).

    python data/make_purchase.py            # writes data/purchase.csv
    python data/make_purchase.py --out F    # writes F instead

The model, the seed and the column formats live in
lessons_lib.data.make_purchase_csv; this script only writes its text.
"""
import argparse
from pathlib import Path

from lessons_lib.data import make_purchase_csv

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "purchase.csv")
args = parser.parse_args()
args.out.write_bytes(make_purchase_csv().encode("utf-8"))  # "\n" line ends on every OS
print(f"wrote {args.out}")
