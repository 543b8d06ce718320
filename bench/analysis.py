"""Driver for bench/analysis.sh: builds the corpus, runs both sides, prints the figures."""
import argparse
import json
import os
import resource
import statistics
import subprocess
import time

p = argparse.ArgumentParser()
p.add_argument("--data", required=True)
p.add_argument("--work", required=True)
p.add_argument("--bin", required=True)
args = p.parse_args()

ONE_CORE = ["taskset", "-c", "0"] if subprocess.run(["which", "taskset"], capture_output=True).returncode == 0 else []

# ---- the corpus: CaSiNo (130 negotiation dialogues) and ABCD (3 customer-service chats) ----
dialogues = []
for name in ("casino_test.json", "casino_valid.json"):
    for d in json.load(open(os.path.join(args.data, "conversations/casino", name))):
        speakers = {}
        turns = []
        for t in d["chat_logs"]:
            if t["text"] in ("Submit-Deal", "Accept-Deal", "Reject-Deal", "Walk-Away"):
                continue
            who = speakers.setdefault(t["id"], f"P{len(speakers) + 1}")
            turns.append((who, " ".join(t["text"].split())))
        dialogues.append(turns)
for d in json.load(open(os.path.join(args.data, "conversations/abcd/abcd_sample.json"))):
    dialogues.append([(who.capitalize(), " ".join(text.split())) for who, text in d["original"] if text.strip()])
corpus = os.path.join(args.work, "corpus")
os.makedirs(corpus)
for i, turns in enumerate(dialogues):
    with open(os.path.join(corpus, f"d{i:04}.txt"), "w") as f:
        f.writelines(f"{who}: {text}\n" for who, text in turns if text)
texts = [open(os.path.join(corpus, n)).read() for n in sorted(os.listdir(corpus))]
corpus_bytes = sum(len(t.encode()) for t in texts)

# A one-hour call: dialogues back to back until 9,000 words (150 words a minute).
hour = os.path.join(args.work, "hour.txt")
words = 0
with open(hour, "w") as f:
    while words < 9000:
        for t in texts:
            f.write(t)
            words += len(t.split())
            if words >= 9000:
                break

# 1 MB and 10 MB transcripts, to see that time grows linearly with the text.
big = {}
for mb in (1, 10):
    path = os.path.join(args.work, f"big{mb}.txt")
    with open(path, "w") as f:
        size = 0
        while size < mb * 1_000_000:
            for t in texts:
                f.write(t)
                size += len(t.encode())
    big[mb] = path

# ---- sentiment accuracy ----
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer  # noqa: E402

vader = SentimentIntensityAnalyzer()
accuracy = {}
for name, label in (("tweets_GroundTruth.txt", "tweets"), ("amazonReviewSnippets_GroundTruth.txt", "amazon")):
    rows = []
    with open(os.path.join(args.data, "sentiment_groundtruth", name), encoding="utf-8", errors="replace") as f:
        for line in f:
            parts = line.rstrip("\r\n").split("\t")
            if len(parts) >= 3:
                rows.append((float(parts[1]), parts[2]))
    ours = subprocess.run([os.path.join(args.bin, "leadscore"), "sentiment"], input="\n".join(t for _, t in rows) + "\n",
                          capture_output=True, text=True, check=True).stdout.split()
    human = [r for r, _ in rows]
    accuracy[label] = {
        "n": len(rows),
        "leadscore_r": statistics.correlation(human, [float(x) for x in ours]),
        "vader_r": statistics.correlation(human, [vader.polarity_scores(t)["compound"] for _, t in rows]),
    }

# ---- speed: the Python reference, in a child pinned to one core ----
REFERENCE = r'''
import sys, time, os, json
import yake
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer
vader = SentimentIntensityAnalyzer()
kw = yake.KeywordExtractor(lan="en", n=3, top=8)
corpus = sys.argv[1]
texts = [open(os.path.join(corpus, n)).read() for n in sorted(os.listdir(corpus))]
def run(t):
    for line in t.splitlines():
        vader.polarity_scores(line.split(": ", 1)[-1])
    kw.extract_keywords(t)
run(texts[0])
start = time.perf_counter(); n = 0
while time.perf_counter() - start < float(sys.argv[2]):
    for t in texts:
        run(t); n += 1
secs = time.perf_counter() - start
print(json.dumps({"transcripts_per_second": n / secs, "seconds": secs, "transcripts": n}))
'''
ref_script = os.path.join(args.work, "reference.py")
open(ref_script, "w").write(REFERENCE)
import sys  # noqa: E402
ref = json.loads(subprocess.run(ONE_CORE + [sys.executable, ref_script, corpus, "20"], capture_output=True, text=True, check=True).stdout)
ours = json.loads(subprocess.run(ONE_CORE + [os.path.join(args.bin, "analysis-bench"), "speed", corpus, "5"], capture_output=True, text=True, check=True).stdout)
mem = json.loads(subprocess.run([os.path.join(args.bin, "analysis-bench"), "memory", hour], capture_output=True, text=True, check=True).stdout)
scaling = {mb: json.loads(subprocess.run([os.path.join(args.bin, "analysis-bench"), "memory", path], capture_output=True, text=True, check=True).stdout) for mb, path in big.items()}

print(f"corpus: {len(texts)} transcripts (CaSiNo + ABCD), {corpus_bytes / 1e3:.0f} kB; one-hour transcript {mem['bytes'] / 1e3:.0f} kB")
print()
print("sentiment accuracy (Pearson r with the mean human rating)")
for label, a in accuracy.items():
    print(f"  {label:<7} n={a['n']:<5} leadscore {a['leadscore_r']:.4f}   vaderSentiment 3.3.2 {a['vader_r']:.4f}   (published: {'0.872' if label == 'tweets' else '0.590'})")
print()
print("speed on one core (parse + full analysis vs. VADER per utterance + YAKE keywords)")
print(f"  leadscore        {ours['transcripts_per_second']:10.1f} transcripts/s  {ours['mb_per_second']:.2f} MB/s")
ref_mbs = ref["transcripts_per_second"] * corpus_bytes / len(texts) / 1e6
print(f"  Python reference {ref['transcripts_per_second']:10.1f} transcripts/s  {ref_mbs:.3f} MB/s")
print(f"  ratio            {ours['transcripts_per_second'] / ref['transcripts_per_second']:10.1f}x")
print()
print(f"one-hour transcript: analysed in {mem['seconds'] * 1e3:.1f} ms, peak memory {mem['peak_kib'] / 1024:.1f} MiB "
      f"({(mem['peak_kib'] - mem['peak_kib_before']) / 1024:.1f} MiB above the process's {mem['peak_kib_before'] / 1024:.1f} MiB at start)")
print(f"scaling: 1 MB in {scaling[1]['seconds']:.3f} s ({scaling[1]['peak_kib'] / 1024:.0f} MiB peak), "
      f"10 MB in {scaling[10]['seconds']:.3f} s ({scaling[10]['peak_kib'] / 1024:.0f} MiB peak): "
      f"{scaling[10]['seconds'] / scaling[1]['seconds']:.1f}x the time for 10x the text")
