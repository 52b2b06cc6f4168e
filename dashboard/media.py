"""Cut utterance clips out of their source media with moviepy, once, into the cache.

A clip's time axis starts at the utterance start, the same axis as the visual frame
times of the record, so the action-unit curves line up with the clip. A missing,
truncated or corrupt source raises :class:`ClipError` with a message for the page.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path

from pgfnet.paths import safe_child, validate_utterance_id

logger = logging.getLogger(__name__)

# Samples per audio block when the clip is written. With moviepy 2.2, blocks as large as
# the reader's 200,000-sample buffer came out as a constant (silent) signal, and blocks
# of 2,000 kept the source level (checked with ffmpeg's volumedetect on a MOSI video).
AUDIO_WRITE_BLOCK = 2_000
AUDIO_FPS = 44_100
VIDEO_KINDS = ("full_video", "clip")

_locks: dict[Path, threading.Lock] = {}
_locks_guard = threading.Lock()


class ClipError(RuntimeError):
    """The source media of an utterance cannot be read or cut."""


@dataclass(frozen=True)
class PlayableMedia:
    """A file the page can play.

    Attributes:
        path: the cut clip in the cache (video) or the source file (audio).
        kind: "video" or "audio".
        duration: seconds.
    """

    path: Path
    kind: str
    duration: float


def _lock_for(path: Path) -> threading.Lock:
    with _locks_guard:
        return _locks.setdefault(path, threading.Lock())


def clip_cache_path(out_dir: Path, utterance_id: str, source: str, start: float,
                    end: float) -> Path:
    """Return the cache file of a cut; the name changes when the source or times change."""
    validate_utterance_id(utterance_id)
    stat = os.stat(source)
    key = f"{Path(source).resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{start:.3f}|{end:.3f}"
    digest = hashlib.sha256(key.encode()).hexdigest()[:12]
    return safe_child(out_dir, f"{utterance_id}_{digest}.mp4")


def prepare_media(media, utterance_id: str, out_dir: Path) -> PlayableMedia:
    """Return a playable file for an utterance's ``Media``, cutting a video clip once.

    Args:
        media: ``pgfnet.data.format.Media`` (kind, absolute path, start and end in
            seconds inside that file).
        out_dir: the clip cache folder.

    Raises:
        ClipError: the source is missing, truncated, corrupt or the cut failed.
    """
    source = Path(media.path)
    if not source.is_file():
        raise ClipError(f"media file {source} not found; rebuild the dataset with "
                        "`pgfnet data build` if the MOSI folder moved")
    if media.kind == "audio":
        return PlayableMedia(path=source, kind="audio", duration=float(media.end - media.start))
    if media.kind not in VIDEO_KINDS:
        raise ClipError(f"media kind {media.kind!r} of {utterance_id} cannot be played")

    target = clip_cache_path(out_dir, utterance_id, str(source), media.start, media.end)
    with _lock_for(target):
        if not target.is_file():
            cut_video(source, media.start, media.end, target)
    return PlayableMedia(path=target, kind="video", duration=float(media.end - media.start))


def cut_video(source: Path, start: float, end: float, target: Path) -> None:
    """Write seconds [start, end) of ``source`` (video and audio) to ``target`` as H.264/AAC.

    The clip is written under a temporary name and renamed, so an interrupted cut never
    leaves a partial file at ``target``.
    """
    from moviepy import VideoFileClip

    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.stem}.{uuid.uuid4().hex}.mp4")
    logger.info("cutting %s [%.2f s, %.2f s) into %s", source, start, end, target)
    try:
        with VideoFileClip(str(source)) as video:
            if not video.duration or start >= video.duration:
                raise ClipError(f"media file {source} is {video.duration or 0:.1f} s long, "
                                f"so it has no frames at {start:.2f} s; the file may be "
                                "truncated")
            clip = video.subclipped(max(0.0, start), min(end, video.duration))
            clip.write_videofile(str(tmp), codec="libx264", audio_codec="aac",
                                 audio_fps=AUDIO_FPS, audio_bufsize=AUDIO_WRITE_BLOCK,
                                 preset="ultrafast", threads=1, logger=None)
        os.replace(tmp, target)
    except ClipError:
        raise
    # moviepy and ffmpeg report an unreadable file through many exception types
    # (OSError, KeyError for missing stream metadata, IndexError on empty reads...).
    except Exception as error:  # noqa: BLE001
        logger.warning("cutting %s failed: %s", source, error)
        raise ClipError(f"media file {source} could not be read or cut ({type(error).__name__}:"
                        f" {error}); the file may be truncated or corrupt") from error
    finally:
        tmp.unlink(missing_ok=True)
