"""Hard limits checked before any work is done, on both sides of the wire."""

from __future__ import annotations

#: Longest motion accepted (seconds): the product scores shots up to 10 minutes.
MAX_DURATION_S = 600.0
#: Frame rates outside this range are refused as absurd (frames per second).
MIN_FPS = 1.0
MAX_FPS = 1000.0
#: Most frames in one motion (10 min at 240 fps).
MAX_FRAMES = 144_000
#: Most joints in one motion (several rigs' worth of bones).
MAX_JOINTS = 512
#: Most joint-frames (frames x joints) in one motion: keeps a request under ~200 MB of float32.
MAX_JOINT_FRAMES = 24_000_000
#: Fewest frames a motion may have: two frames give one velocity, the least that has a rhythm.
MIN_FRAMES = 2
#: Largest message a server accepts (bytes); a 10-minute 60 fps 17-joint motion is ~5 MB.
MAX_REQUEST_BYTES = 64 * 1024 * 1024
#: Largest message a client accepts (bytes): 10 minutes of 48 kHz float32 mono is ~115 MB.
MAX_REPLY_BYTES = 256 * 1024 * 1024
#: Output sample rates a request may ask for (Hz).
MIN_SAMPLE_RATE = 8_000
MAX_SAMPLE_RATE = 96_000
#: Longest free-text prompt (characters).
MAX_PROMPT_CHARS = 2_000
#: Most sync points (hits) in one request.
MAX_HITS = 1_000
#: Tempo a user may impose (BPM).
MIN_TEMPO_BPM = 20.0
MAX_TEMPO_BPM = 300.0
#: Closest two hits may be (seconds): a beat each, so at most 600 beats a minute.
MIN_HIT_GAP_S = 0.1
#: Largest song file a conform request may carry (bytes): a 15-minute 320 kb/s mp3 is ~36 MB.
MAX_SONG_BYTES = 32 * 1024 * 1024
#: Longest song name (characters).
MAX_SONG_NAME_CHARS = 255
#: Most beats in a tempo map given with a request (10 minutes at 300 BPM).
MAX_MAP_BEATS = 3_000
