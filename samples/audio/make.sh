#!/usr/bin/env bash
# Speak samples/audio/script.txt into the sample recordings, and one short phrase into each
# format telephony exports use. Needs espeak-ng and sox (Debian packages, installed if missing)
# and, for M4A and OGG/Opus, the speech engine's Python (PyAV): `leadscore speech install`
# first, or SPEECH_PYTHON=/path/to/python.
set -euo pipefail
cd "$(dirname "$0")"
if ! command -v espeak-ng >/dev/null || ! command -v sox >/dev/null; then
  sudo_if() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
  sudo_if apt-get install -y espeak-ng sox libsox-fmt-all
fi
PY="${SPEECH_PYTHON:-../../leadscore-data/speech/venv/bin/python}"
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT

# Each turn as 16 kHz mono, then laid out: a turn starts 0.4 s after the previous one ends.
declare -A left right; files=()
while IFS='|' read -r file who voice text; do
  [[ -z "$file" || "$file" == \#* ]] && continue
  [[ " ${files[*]} " == *" $file "* ]] || files+=("$file")
  n=$(ls "$work" | wc -l)
  espeak-ng -v "$voice" -s 135 -g 3 -w "$work/raw$n.wav" "$text"
  sox "$work/raw$n.wav" -r 16000 "$work/turn$n.wav"
  echo "$file|$who|$work/turn$n.wav" >> "$work/turns"
done < script.txt

for file in "${files[@]}"; do
  agent=(); caller=(); t=0
  while IFS='|' read -r f who turn; do
    [[ "$f" == "$file" ]] || continue
    len=$(soxi -D "$turn")
    # The other party is silent meanwhile.
    sox -n -r 16000 -c 1 "$work/gap$t.wav" trim 0 "$len"
    if [[ "$who" == agent ]]; then agent+=("$turn"); caller+=("$work/gap$t.wav");
    else caller+=("$turn"); agent+=("$work/gap$t.wav"); fi
    sox -n -r 16000 -c 1 "$work/pause$t.wav" trim 0 0.4
    agent+=("$work/pause$t.wav"); caller+=("$work/pause$t.wav")
    t=$((t + 1))
  done < "$work/turns"
  sox "${agent[@]}" "$work/agent.wav"; sox "${caller[@]}" "$work/caller.wav"
  case "$file" in
    # Stereo as telephony systems record it: 8 kHz mu-law, agent left, caller right.
    *.wav) sox -M "$work/agent.wav" "$work/caller.wav" -r 8000 -e u-law "$file" ;;
    # One party only on a mono FLAC.
    *.flac) sox "$work/caller.wav" -r 16000 -b 16 "$file" ;;
  esac
done

# One phrase in every format (tests/api/speech.rs reads them back).
mkdir -p formats
espeak-ng -v en-us -s 135 -w "$work/phrase.wav" "Please call me about the price of solar panels."
sox "$work/phrase.wav" -r 8000 -b 16 -e signed formats/phrase-pcm.wav
sox "$work/phrase.wav" -r 8000 -e u-law formats/phrase-mulaw.wav
sox "$work/phrase.wav" -r 16000 formats/phrase.flac
sox "$work/phrase.wav" -r 16000 -C 32 formats/phrase.mp3
"$PY" - "$work/phrase.wav" formats <<'PY'
import sys, av
src, out = sys.argv[1], sys.argv[2]
for name, codec, rate in [("phrase.m4a", "aac", 16000), ("phrase.ogg", "libopus", 48000)]:
    with av.open(src) as inp, av.open(f"{out}/{name}", "w") as o:
        stream = o.add_stream(codec, rate=rate, layout="mono")
        resampler = av.AudioResampler(format=stream.format.name if codec == "aac" else "s16", layout="mono", rate=rate)
        for frame in inp.decode(audio=0):
            for f in resampler.resample(frame):
                for p in stream.encode(f):
                    o.mux(p)
        for f in resampler.resample(None):
            for p in stream.encode(f):
                o.mux(p)
        for p in stream.encode(None):
            o.mux(p)
PY
ls -l *.wav *.flac formats/
