"""sftdata vs datatrove, stage by stage and whole, on the corpus of benchmarks/scale.py.

    python benchmarks/datatrove_peer.py --mb 20 [--keep DIR] [--corpus FILE.jsonl]

Each run is a fresh process reading the same JSONL and writing its result (reading
and writing included), one process, one task each; printed: seconds, peak RSS (the
process's ``ru_maxrss``) and the ratio datatrove / sftdata (> 1: sftdata faster).

==================  =========================================  ==========================================
stage               sftdata (``sftdata run``, one step)       datatrove 0.10 (LocalPipelineExecutor)
==================  =========================================  ==========================================
fix                 ``clean.fix_text``                          ``FTFYFormatter`` (defaults)
quality             ``clean.quality``                           ``GopherQualityFilter`` + ``GopherRepetitionFilter``
minhash             ``dedup.minhash`` (threshold 0.8)           signature, buckets, cluster, filter (``MinhashConfig()``)
all                 the three above in one run                 the three above (4 minhash stages)
==================  =========================================  ==========================================
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from scale import generate

OURS = {
    "fix": ["clean.fix_text"],
    "quality": ["clean.quality"],
    "minhash": ["dedup.minhash: {threshold: 0.8}"],
    "all": ["clean.fix_text", "clean.quality", "dedup.minhash: {threshold: 0.8}"],
}

CHILD_OURS = """
import json, resource, sys, time
from sftdata.runner import load_spec, run
t0, c0 = time.perf_counter(), time.process_time()
res = run(load_spec(sys.argv[1]), progress=False)
usage = [resource.getrusage(w) for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
rss = max(u.ru_maxrss for u in usage)
cpu = sum(u.ru_utime + u.ru_stime for u in usage) - c0  # imports not counted
print(json.dumps({"seconds": time.perf_counter() - t0, "cpu_s": cpu, "rss_mb": rss / 1024,
                  "kept": res.counters.kept}))
"""

CHILD_PEER = """
import json, resource, sys, time
from datatrove.executor import LocalPipelineExecutor
from datatrove.pipeline.readers import JsonlReader
from datatrove.pipeline.writers import JsonlWriter
from datatrove.pipeline.formatters import FTFYFormatter
from datatrove.pipeline.filters import GopherQualityFilter, GopherRepetitionFilter
from datatrove.pipeline.dedup import (MinhashDedupSignature, MinhashDedupBuckets,
    MinhashDedupCluster, MinhashDedupFilter)
from datatrove.pipeline.dedup.minhash import MinhashConfig

import xxhash
_xxh64 = xxhash.xxh64_intdigest  # datatrove 0.10.1 passes str; this xxhash wants bytes
xxhash.xxh64_intdigest = lambda d, seed=0: _xxh64(d.encode() if isinstance(d, str) else d, seed)

corpus, pattern, work, stage = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
def ex(steps, name, tasks=1):
    return LocalPipelineExecutor(pipeline=steps, tasks=tasks, workers=1,
                                 logging_dir=f"{work}/logs/{name}", skip_completed=False)
def reader(folder, glob="*.jsonl*"):
    return JsonlReader(folder, glob_pattern=glob, text_key="text", id_key="id")
t0, c0 = time.perf_counter(), time.process_time()
maps = {"fix": [FTFYFormatter()], "quality": [GopherQualityFilter(), GopherRepetitionFilter()]}
if stage in ("fix", "quality"):
    ex([reader(corpus, pattern), *maps[stage], JsonlWriter(f"{work}/out")], stage).run()
else:
    src, glob = corpus, pattern
    if stage == "all":
        ex([reader(corpus, pattern), *maps["fix"], *maps["quality"], JsonlWriter(f"{work}/mid")], "map").run()
        src, glob = f"{work}/mid", "*.jsonl*"
    cfg = MinhashConfig()
    ex([reader(src, glob), MinhashDedupSignature(f"{work}/sigs", config=cfg)], "sig").run()
    buckets = MinhashDedupBuckets(f"{work}/sigs", f"{work}/buckets", config=cfg)
    ex([buckets], "buckets", tasks=cfg.num_buckets).run()  # one task per bucket, one worker
    ex([MinhashDedupCluster(f"{work}/buckets", f"{work}/ids", config=cfg)], "cluster").run()
    ex([reader(src, glob), MinhashDedupFilter(f"{work}/ids"), JsonlWriter(f"{work}/out")], "filter").run()
usage = [resource.getrusage(w) for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
rss = max(u.ru_maxrss for u in usage)
cpu = sum(u.ru_utime + u.ru_stime for u in usage) - c0  # imports not counted
print(json.dumps({"seconds": time.perf_counter() - t0, "cpu_s": cpu, "rss_mb": rss / 1024}))
"""


def _child(code: str, *args: str) -> dict[str, float]:
    proc = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, check=False
    )
    if proc.returncode:
        raise SystemExit(proc.stderr[-3000:])
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def ours(corpus: Path, work: Path, stage: str) -> dict[str, float]:
    work.mkdir(parents=True, exist_ok=True)
    steps = "\n".join(f"  - {s}" for s in OURS[stage])
    spec = work / "pipeline.yaml"
    spec.write_text(
        f"inputs: [{{path: {corpus}}}]\nsteps:\n{steps}\n"
        f"output: {{path: {work}/out, format: parquet}}\n"
        f"rejects: {{path: {work}/rejects, format: parquet}}\n"
    )
    return _child(CHILD_OURS, str(spec))


def peer(corpus: Path, work: Path, stage: str) -> dict[str, float]:
    """datatrove reads the corpus's folder, globbing the corpus's own file name only."""
    work.mkdir(parents=True, exist_ok=True)
    return _child(CHILD_PEER, str(corpus.parent), corpus.name, str(work), stage)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb", type=float, default=20.0)
    ap.add_argument("--stages", default="fix,quality,minhash,all")
    ap.add_argument("--keep", type=Path, default=None)
    ap.add_argument(
        "--corpus", type=Path, default=None, help="reuse a corpus written by scale.py (read only)"
    )
    ap.add_argument("--save", type=Path, default=None, help="write the figures as JSON")
    ap.add_argument(
        "--peer-from", type=Path, default=None, help="datatrove's figures from a --save file"
    )
    args = ap.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="sftdata-peer-"))
    if args.corpus is None:
        (work / "corpus").mkdir(parents=True, exist_ok=True)
        corpus = work / "corpus" / "corpus.jsonl"
        info = generate(corpus, mb=args.mb, docs=None)
        (work / "corpus" / "corpus.truth.json").unlink()
        docs, mb = info["docs"], info["bytes"] / 1e6
    else:
        corpus = args.corpus.resolve()
        with corpus.open("rb") as f:
            docs = sum(1 for _ in f)
        mb = corpus.stat().st_size / 1e6
    print(f"corpus: {docs} docs, {mb:.1f} MB (benchmarks/scale.py generator) in {corpus}")
    saved = json.loads(args.peer_from.read_text())["peer"] if args.peer_from else {}
    figures: dict[str, dict[str, dict[str, float]]] = {"ours": {}, "peer": {}}
    print("seconds: wall / CPU (user + sys of the process and its children, after imports);")
    print(
        "ratio: datatrove / sftdata, wall / CPU (> 1: sftdata faster); on a busy machine trust CPU"
    )
    print(
        f"{'stage':<9} {'sftdata s':>13} {'RSS MB':>7} {'datatrove s':>13} {'RSS MB':>7} {'ratio':>13}"
    )
    for stage in args.stages.split(","):
        a = ours(corpus, work / f"ours-{stage}", stage)
        b = saved.get(stage) or peer(corpus, work / f"peer-{stage}", stage)
        figures["ours"][stage], figures["peer"][stage] = a, b
        print(
            f"{stage:<9} {a['seconds']:>6.1f}/{a['cpu_s']:>6.1f} {a['rss_mb']:>7.0f} "
            f"{b['seconds']:>6.1f}/{b['cpu_s']:>6.1f} {b['rss_mb']:>7.0f} "
            f"{b['seconds'] / a['seconds']:>5.2f}x/{b['cpu_s'] / a['cpu_s']:>5.2f}x"
            + (" (datatrove: saved)" if stage in saved else "")
        )
    if args.save:
        args.save.write_text(json.dumps({"corpus": str(corpus), "mb": mb, **figures}, indent=1))
    if args.keep is None:
        import shutil

        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
