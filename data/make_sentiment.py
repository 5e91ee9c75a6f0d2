"""Regenerate data/sentiment.csv, the synthetic sentiment set (see data/README.md).

    python data/make_sentiment.py            # writes data/sentiment.csv
    python data/make_sentiment.py --out F    # writes F instead

The grammar and the seed live in
lessons_lib.data.make_sentiment_csv; this script only writes its text.
"""
import argparse
from pathlib import Path

from lessons_lib.data import make_sentiment_csv

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "sentiment.csv")
args = parser.parse_args()
args.out.write_bytes(make_sentiment_csv().encode("utf-8"))  # "\n" line ends on every OS
print(f"wrote {args.out}")
