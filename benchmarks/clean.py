"""Benchmark: ``sd.clean.FixText`` against ``ftfy.fix_text`` applied to every text.

Three corpora:

- clean: the copyright files of the installed Debian packages
  (``/usr/share/doc/*/copyright``), mostly clean ASCII and Latin-1 text;
- mojibake: their non-ASCII lines, 40 to a document, encoded as UTF-8 and decoded
  as Windows-1252 or Latin-1 (alternating), so every line needs repair;
- web-like: the documents of ``benchmarks/scale.py`` (``--web-mb``), about 35% of them
  with non-ASCII words on many lines, a few with mojibake.

For each corpus: MB/s (UTF-8 bytes of input per second) of ``ftfy.fix_text`` on every
text, of ``FixText`` configured to do exactly what ftfy does (whitespace and invisible
characters off; the outputs are asserted identical, text by text), and of the default
``FixText`` (which also normalises whitespace and drops invisible characters).

    python benchmarks/clean.py [--repeat 1] [--max-mojibake-mb 3] [--web-mb 3]
"""

from __future__ import annotations

import argparse
import glob
import time
from collections.abc import Callable

import ftfy
import ftfy.bad_codecs  # registers the "sloppy-windows-1252" codec

from sftdata.clean import FixText


def load_copyrights() -> list[str]:
    texts = []
    for path in sorted(glob.glob("/usr/share/doc/*/copyright")):
        try:
            with open(path, encoding="utf-8") as f:
                texts.append(f.read())
        except (UnicodeDecodeError, OSError):
            continue  # not UTF-8 (or unreadable): not part of the corpus
    return texts


def garble(texts: list[str], max_mb: float, *, lines_per_doc: int = 40) -> list[str]:
    """Documents made only of the non-ASCII lines, each garbled: every line needs repair."""
    codecs = ("sloppy-windows-1252", "latin-1")
    lines = [ln for t in texts for ln in t.split("\n") if not ln.isascii()]
    out, size = [], 0
    for i in range(0, len(lines), lines_per_doc):
        doc = "\n".join(lines[i : i + lines_per_doc])
        out.append(doc.encode("utf-8").decode(codecs[len(out) % 2]))
        size += len(out[-1].encode("utf-8"))
        if size > max_mb * 1e6:
            break
    return out


def timed(fn: Callable[[str], str], texts: list[str], repeat: int) -> tuple[list[str], float]:
    best = float("inf")
    out: list[str] = []
    for _ in range(repeat):
        start = time.perf_counter()
        out = [fn(t) for t in texts]
        best = min(best, time.perf_counter() - start)
    return out, best


def run(name: str, texts: list[str], repeat: int) -> None:
    mb = sum(len(t.encode("utf-8")) for t in texts) / 1e6
    like_ftfy = FixText(normalize_whitespace=False, remove_invisible=False, max_repair_chars=None)
    full = FixText(max_repair_chars=None)
    ref, t_ftfy = timed(ftfy.fix_text, texts, repeat)
    ours, t_ours = timed(like_ftfy.fix, texts, repeat)
    _, t_full = timed(full.fix, texts, repeat)
    changed = sum(a != b for a, b in zip(texts, ref, strict=True))
    for i, (a, b) in enumerate(zip(ref, ours, strict=True)):
        assert a == b, f"{name}: text {i} differs from ftfy.fix_text"
    print(f"\n{name}: {len(texts)} texts, {mb:.2f} MB, ftfy changes {changed} of them")
    print(f"  ftfy.fix_text              {mb / t_ftfy:8.2f} MB/s")
    print(
        f"  FixText (= ftfy output)    {mb / t_ours:8.2f} MB/s   x{t_ftfy / t_ours:.1f}  identical: yes"
    )
    print(f"  FixText (defaults)         {mb / t_full:8.2f} MB/s   x{t_ftfy / t_full:.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=1, help="best of N timings")
    parser.add_argument("--max-mojibake-mb", type=float, default=3.0)
    parser.add_argument("--web-mb", type=float, default=3.0)
    args = parser.parse_args()
    texts = load_copyrights()
    run("clean (Debian copyright files)", texts, args.repeat)
    run(
        "mojibake (UTF-8 read as cp1252 / latin-1)",
        garble(texts, args.max_mojibake_mb),
        args.repeat,
    )
    if args.web_mb:
        run("web-like (benchmarks/scale.py corpus)", web_texts(args.web_mb), args.repeat)


def web_texts(mb: float) -> list[str]:
    import json
    import sys
    import tempfile
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parent))
    from scale import generate

    path = Path(tempfile.mkdtemp()) / "web.jsonl"
    generate(path, mb=mb, docs=None)
    texts = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            texts.append(json.loads(line)["text"])
        except (json.JSONDecodeError, KeyError):
            continue  # the generator's planted malformed lines
    return texts


if __name__ == "__main__":
    main()
