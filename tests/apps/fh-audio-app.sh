#!/bin/sh
# The session app of the audio tests (tests/e2e/audio.test.mjs), started by
# the host inside each session with the session's PULSE_SINK/PULSE_SOURCE:
#   - plays DIR/tone-<Hz>.raw (s16le, 48 kHz, stereo) over and over, the
#     tone chosen by the session's serial: 1 → 440 Hz, 2 → 880 Hz;
#   - records the session's microphone to DIR/<session id>.mic.raw
#     (float32le, 48 kHz, mono);
#   - shows a window (fh-input-recorder), so the session has a picture.
#
#   fh-audio-app.sh DIR RECORDER
set -u
dir=$1
recorder=$2
case ${FUNKHAUS_SESSION_SERIAL:-1} in
  1) hz=440 ;;
  *) hz=880 ;;
esac
(
  while :; do
    pacat --playback --raw --format=s16le --rate=48000 --channels=2 --latency-msec=20 \
      "$dir/tone-$hz.raw" || sleep 0.2
  done
) &
parecord --raw --format=float32le --rate=48000 --channels=1 --latency-msec=20 \
  "$dir/$FUNKHAUS_SESSION.mic.raw" &
exec "$recorder" "$dir/%s.log"
