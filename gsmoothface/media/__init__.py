"""Media I/O through ffmpeg (ffmpeg-python builds the command lines): probe, decode, encode, mux.

Every ffmpeg failure becomes an :class:`~gsmoothface.errors.InputError` naming the file and quoting
the tail of ffmpeg's stderr (the approach of whisper's ``load_audio``), so a user sees what failed
and on which file. Every write is atomic: ffmpeg writes a temporary sibling that is renamed onto the
target only when ffmpeg succeeded.
"""

from gsmoothface.media.decode import iter_frames, load_audio, read_frames
from gsmoothface.media.encode import VideoWriter, mux_audio, write_wav
from gsmoothface.media.probe import MediaInfo, probe

__all__ = [
    "MediaInfo",
    "VideoWriter",
    "iter_frames",
    "load_audio",
    "mux_audio",
    "probe",
    "read_frames",
    "write_wav",
]
