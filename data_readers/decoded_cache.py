"""A decoded cache: every image decoded and resized once into raw pixel shards on disk.

``ImageReader(..., cache="DIR")`` (or ``ganaug cache``) opens one with :meth:`DecodedCache.open`,
which decodes what the cache lacks and then serves the pixels of every listed file, so the reader's
faces read batches from disk instead of decoding PNGs, bit-identical to decoding them.

Format and why. The cache is a folder per set of decode settings,
``DIR/<key>/{index.json, shard-*.bin}``, where ``<key>`` hashes the decode settings (image size,
channels, alpha rule, format version). A shard is raw C-order arrays of the integer pixels
``decode_pixels`` returns (uint8, or uint16 for 16-bit files), back to back; ``index.json`` gives
each file's identity (absolute path, size in bytes, mtime in ns), shard, byte offset, shape and
dtype, or that it was unreadable and why. Any entry can be opened as ``np.memmap(shard, dtype,
offset=offset, shape=shape)``. Raw arrays at known offsets were chosen over TFRecord because
the reader addresses files at random (batch ``i`` of a per-epoch permutation, the same in every
face and every shard, which is what makes cached batches bit-identical to decoded ones), and
TFRecord is a sequential format that would need a shuffle buffer (another order), TensorFlow in
the numpy faces, and a parse plus a ``decode_raw`` copy per record. Entries are read with
``os.pread`` straight into an array (no mapping), so the process's resident memory stays at a few
batches whatever the data set's size, and the page cache does the rest.

Staleness. At every open each listed file is ``stat``-ed; an entry is reused only if path, size and
mtime match, so a changed or added file is decoded again and nothing stale is read. Entries whose
file is gone (or changed) are dropped, and a shard with no entry left is deleted. Entries of files
that still exist but are not in this listing are kept (two readers can share a cache folder).
Unreadable files are recorded with their reason and skipped by the reader like any unreadable file
(logged once, counted in ``reader.skipped``; ``strict=True`` raises).

Crash safety. A shard is written to ``*.tmp`` and renamed; ``index.json`` is written last, also
through a rename, and lists every shard with its length. An index that does not parse, has another
format or settings, or names a missing or short shard, is a half-written cache: it is logged,
deleted and rebuilt. Leftover ``*.tmp`` files and shards the index does not name are removed. A lock
file (``fcntl.flock``) serialises processes that update the same cache.
"""

import concurrent.futures
import contextlib
import hashlib
import json
import logging
import os
import shutil
import threading
import uuid

import numpy as np

from data_readers.batches import SKIPPABLE_ERRORS, PixelSource
from data_readers.decode import UnreadableImageError, decode_pixels

logger = logging.getLogger("data_readers.image_reader")

FORMAT = "ganaug-decoded-cache-1"
_INDEX = "index.json"
_LOCK = ".lock"
_CHUNK = 64  # files decoded per task while building


def cache_key(settings):
    """Returns the folder name of a cache built with these decode settings (a short hash)."""
    text = json.dumps({"format": FORMAT, **settings}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _identity(path):
    """Returns ``(size, mtime_ns)`` of ``path`` or None when it cannot be stat-ed as a file."""
    try:
        stat = os.stat(path)
    except OSError:
        return None
    if not os.path.isfile(path):
        return None
    return stat.st_size, stat.st_mtime_ns


@contextlib.contextmanager
def _locked(folder):
    import fcntl

    with open(os.path.join(folder, _LOCK), "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _write_atomic(path, data):
    temporary = f"{path}.{uuid.uuid4().hex}.tmp"
    with open(temporary, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


class DecodedCache(PixelSource):
    """The pixels of a reader's listed files, served from a decoded cache (see the module docstring).

    Build one with :meth:`open`. It has the pixel-source interface of
    ``data_readers.batches.FileDecoder`` (``read``, ``first_pixels``, ``depth``, ``size_error``),
    so the reader's batches do not depend on where the pixels come from.

    Attributes:
        folder: the cache folder of these decode settings (``DIR/<key>``).
        decoded: files decoded by this open (new or changed).
        reused: files served from entries already in the cache.
        unreadable: listed files recorded as unreadable.
        nbytes: bytes of pixels the listing occupies in the cache.
    """

    def __init__(self, folder, decoder, entries, shards):
        super().__init__(decoder.paths, source=decoder.source)
        self.folder = folder
        self._decoder = decoder
        shards = list(shards)
        self._files = [os.open(os.path.join(folder, name), os.O_RDONLY) for name in shards]
        # One row per listed file in flat arrays (about 50 bytes a file, not a dict each), so
        # the reader's memory stays small with millions of files.
        count = len(entries)
        self._shard = np.full(count, -1, np.int32)  # -1: unreadable
        self._offset = np.zeros(count, np.int64)
        self._shape = np.zeros((count, 3), np.int32)
        self._dtype = np.zeros(count, np.uint8)  # 0: uint8, 1: uint16
        self._reasons = {}  # index -> (error type name, reason) of unreadable files
        shard_number = {name: i for i, name in enumerate(shards)}
        for i, entry in enumerate(entries):
            if entry["status"] != "ok":
                self._reasons[i] = (entry.get("error"), entry["reason"])
                continue
            shape = list(entry["shape"]) + [1] * (3 - len(entry["shape"]))
            self._shard[i], self._offset[i], self._shape[i] = shard_number[entry["shard"]], entry["offset"], shape
            self._dtype[i] = 0 if entry["dtype"] == "uint8" else 1
        self.strict = decoder.strict
        self.log = decoder.log
        self._scratch = threading.local()
        self.decoded = 0
        self.reused = 0
        self.unreadable = len(self._reasons)
        self.nbytes = int(sum(e.get("nbytes", 0) for e in entries))

    @property
    def unreadable_indices(self):
        """Indices (into the listing) of the files recorded as unreadable."""
        return sorted(self._reasons)

    def __del__(self):
        for descriptor in getattr(self, "_files", []):
            with contextlib.suppress(OSError):
                os.close(descriptor)

    # --------------------------------------------------------------------------- building
    @classmethod
    def open(cls, directory, decoder, *, num_threads=1, progress=False):
        """Opens (and brings up to date) the cache of ``decoder``'s listing and settings.

        Args:
            directory: the cache root; created if missing. Caches of other decode settings live
                beside this one, in their own sub-folders.
            decoder: the reader's ``FileDecoder`` (paths, decode settings, strictness, log).
            num_threads: decoding threads for files the cache lacks.
            progress: show a progress bar (tqdm, when installed) while decoding.

        Returns:
            A :class:`DecodedCache`.

        Raises:
            TypeError: if ``directory`` is not a path.
            OSError: if the cache folder cannot be created or written.
        """
        if not isinstance(directory, (str, os.PathLike)):
            raise TypeError(f"`cache` must be a folder path. Received: cache={directory!r}")
        settings = decoder.settings()
        folder = os.path.join(os.fspath(directory), cache_key(settings))
        os.makedirs(folder, exist_ok=True)
        with _locked(folder):
            index = cls._load_index(folder, settings)
            entries, decoded, reused = cls._update(folder, index, decoder, settings, num_threads, progress)
            shards = sorted({e["shard"] for e in entries if e["status"] == "ok"})
        cache = cls(folder, decoder, entries, shards)
        cache.decoded, cache.reused = decoded, reused
        if decoded:
            logger.info("Decoded cache %s: %d file(s) decoded, %d reused.", folder, decoded, reused)
        return cache

    @staticmethod
    def _load_index(folder, settings):
        """Returns the valid index of ``folder`` (entries by path), or an empty one after removing
        a half-written cache; removes leftover temporary files and unreferenced shards."""
        path = os.path.join(folder, _INDEX)
        names = set(os.listdir(folder)) - {_LOCK}
        index, problem = None, None
        if os.path.exists(path):
            try:
                with open(path, encoding="utf-8") as handle:
                    index = json.load(handle)
                if index.get("format") != FORMAT or index.get("settings") != settings:
                    problem = "its format or decode settings differ"
                else:
                    for shard, length in index["shards"].items():
                        if shard not in names or os.path.getsize(os.path.join(folder, shard)) != length:
                            problem = f"shard {shard} is missing or has the wrong length"
                            break
            except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
                problem = f"its index cannot be read ({type(error).__name__}: {error})"
        elif any(n.startswith("shard-") for n in names):
            problem = "it has shards but no index (the writing process was stopped)"
        if problem:
            logger.warning("Decoded cache %s is incomplete or stale (%s): rebuilding it.", folder, problem)
            for name in names:
                target = os.path.join(folder, name)
                shutil.rmtree(target) if os.path.isdir(target) else os.remove(target)
            return {"entries": {}, "shards": {}}
        index = index or {"entries": {}, "shards": {}}
        for name in names:  # a shard or index being written when the writer stopped
            if name.endswith(".tmp") or (name.startswith("shard-") and name not in index["shards"]):
                os.remove(os.path.join(folder, name))
        return index

    @classmethod
    def _update(cls, folder, index, decoder, settings, num_threads, progress):
        """Decodes the listed files the index lacks into a new shard and rewrites the index."""
        known = index["entries"]
        current = {}
        for path, entry in known.items():  # drop entries of files that are gone or changed
            identity = _identity(path)
            if identity is not None and [entry.get("size"), entry.get("mtime_ns")] == list(identity):
                current[path] = entry
        dropped = len(known) - len(current)
        absolute = [os.path.abspath(p) for p in decoder.paths]
        missing, entries, reused = [], [], 0
        for i, path in enumerate(absolute):
            entry = current.get(path)
            if entry is None and _identity(path) is None:
                entry = {"status": "unreadable", "error": "FileNotFoundError",
                         "reason": f"FileNotFoundError: Image file not found: {decoder.paths[i]}"}
            if entry is None:
                missing.append(i)
            else:
                reused += path in current
            entries.append(entry)
        shards = {name: length for name, length in index["shards"].items()}
        if missing:
            name, length, new = cls._write_shard(folder, decoder, [decoder.paths[i] for i in missing],
                                                 num_threads, progress)
            for i, entry in zip(missing, new):
                entries[i] = entry
                if "size" in entry:  # stat-ed when decoded: reusable by a later open
                    current[absolute[i]] = entry
            if length:
                shards[name] = length
        live = {e["shard"] for e in (*current.values(), *entries) if e["status"] == "ok"}
        for name in set(shards) - live:
            os.remove(os.path.join(folder, name))
            del shards[name]
        if missing or dropped or not os.path.exists(os.path.join(folder, _INDEX)):
            text = json.dumps({"format": FORMAT, "settings": settings, "shards": shards,
                               "entries": current})
            _write_atomic(os.path.join(folder, _INDEX), text.encode())
        return entries, len(missing), reused

    @staticmethod
    def _write_shard(folder, decoder, paths, num_threads, progress):
        """Decodes ``paths`` into one new shard; returns ``(name, length, entries)``."""
        name = f"shard-{uuid.uuid4().hex}.bin"
        temporary = os.path.join(folder, name + ".tmp")
        settings = decoder.settings()
        size = tuple(settings["image_size"]) if settings["image_size"] else None

        def decode(chunk):
            out = []
            for path in chunk:
                identity = _identity(path)
                try:
                    pixels = decode_pixels(path, image_size=size, channels=settings["channels"],
                                           alpha=settings["alpha"])
                except SKIPPABLE_ERRORS as error:
                    out.append((path, identity, None, error))
                else:
                    out.append((path, identity, pixels, None))
            return out

        chunks = [paths[i : i + _CHUNK] for i in range(0, len(paths), _CHUNK)]
        bar = _progress_bar(len(paths), progress)
        entries, offset = [], 0
        with open(temporary, "wb") as handle, concurrent.futures.ThreadPoolExecutor(num_threads) as pool:
            # Bounded look-ahead: at most 2 * num_threads chunks decoded and not yet written.
            pending, submitted = [], 0
            while submitted < len(chunks) or pending:
                while submitted < len(chunks) and len(pending) < 2 * num_threads:
                    pending.append(pool.submit(decode, chunks[submitted]))
                    submitted += 1
                for path, identity, pixels, error in pending.pop(0).result():
                    base = {"size": identity[0], "mtime_ns": identity[1]} if identity else {}
                    if pixels is None:
                        entries.append({**base, "status": "unreadable", "error": type(error).__name__,
                                        "reason": f"{type(error).__name__}: {error}"})
                        continue
                    data = np.ascontiguousarray(pixels)
                    handle.write(memoryview(data).cast("B"))
                    entries.append({**base, "status": "ok", "shard": name, "offset": offset,
                                    "nbytes": data.nbytes, "shape": list(data.shape),
                                    "dtype": data.dtype.name})
                    offset += data.nbytes
                    if bar is not None:
                        bar.update(1)
            handle.flush()
            os.fsync(handle.fileno())
        if bar is not None:
            bar.close()
        if offset:
            os.replace(temporary, os.path.join(folder, name))
        else:
            os.remove(temporary)
        return name, offset, entries

    # --------------------------------------------------------------------------- reading
    def read(self, index, *, transient=False):
        """Returns the cached pixels of listed file ``index`` or None (skipped, recorded).

        Args:
            index: the listed file.
            transient: read into this thread's scratch buffer instead of a new array (valid until
                the thread's next transient read; a batch copies it at once). Saves allocating, and
                for arrays above the allocator's mmap threshold mapping and zeroing, 196 KB per
                256 px image.
        """
        shard = self._shard[index]
        if shard < 0:
            error_name, reason = self._reasons[index]
            if self.strict:
                error = FileNotFoundError if error_name == "FileNotFoundError" else UnreadableImageError
                raise error(reason.split(": ", 1)[-1])
            self.log.record_skip(self.paths[index], reason)
            return None
        shape = tuple(int(v) for v in self._shape[index])
        dtype = np.uint16 if self._dtype[index] else np.uint8
        nbytes = int(np.prod(shape)) * np.dtype(dtype).itemsize
        if transient:
            scratch = getattr(self._scratch, "buffer", None)
            if scratch is None or scratch.nbytes < nbytes:
                scratch = self._scratch.buffer = np.empty(nbytes, np.uint8)
            pixels = scratch[:nbytes].view(dtype).reshape(shape)
        else:
            pixels = np.empty(shape, dtype)
        view = memoryview(pixels).cast("B")
        got = os.preadv(self._files[shard], [view], int(self._offset[index]))
        if got != nbytes:
            raise OSError(f"Decoded cache {self.folder}: short read of {self.paths[index]} (the cache "
                          "was changed while open; open the reader again to rebuild it)")
        return pixels

    def settings(self):
        """The decode settings of the cache (those of the reader's decoder)."""
        return self._decoder.settings()


def _progress_bar(total, enabled):
    if not enabled:
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return None
    return tqdm(total=total, desc="Decoding into the cache", unit="image")


def build_cache(data, out, *, image_size, channels=3, alpha="composite", labelled=True,
                num_threads=None, progress=True):
    """Decodes a folder of images into a decoded cache (what ``ganaug cache`` runs).

    A reader built later with the same folder and decode settings and ``cache=out`` reads from it
    without decoding (``ImageReader.from_folder(data, image_size=..., cache=out)``).

    Args:
        data: a folder of class folders (or any folder of images with ``labelled=False``).
        out: the cache root folder.
        image_size: int or ``(height, width)`` to resize to, or None to keep the stored size.
        channels: 3 (RGB) or 1 (grey).
        alpha: ``"composite"`` or ``"drop"``.
        labelled: whether the sub-folders of ``data`` are classes (which files are listed).
        num_threads: decoding threads; None uses every available CPU.
        progress: show a progress bar while decoding.

    Returns:
        A dict: ``folder`` (the cache folder of these settings), ``files``, ``decoded``,
        ``reused``, ``unreadable`` (with ``unreadable_paths``) and ``nbytes``.

    Raises:
        FileNotFoundError: if ``data`` does not exist.
        ValueError: for bad settings or a folder without images.
    """
    from data_readers.batches import FileDecoder, ReadLog
    from data_readers.checks import check_bool, check_positive_int
    from data_readers.decode import check_alpha, check_channels, normalize_image_size
    from data_readers.faces import default_num_threads
    from data_readers.sources import folder_listing

    listing = folder_listing(data, labelled=check_bool(labelled, "labelled"))
    num_threads = check_positive_int(num_threads, "num_threads", allow_none=True) or default_num_threads()
    decoder = FileDecoder(listing.paths, image_size=normalize_image_size(image_size),
                          channels=check_channels(channels), alpha=check_alpha(alpha), strict=False,
                          log=None, source=listing.source)
    cache = DecodedCache.open(out, decoder, num_threads=num_threads, progress=progress)
    unreadable = [listing.paths[i] for i in cache.unreadable_indices]
    return {"folder": cache.folder, "files": len(listing.paths), "decoded": cache.decoded,
            "reused": cache.reused, "unreadable": len(unreadable), "unreadable_paths": unreadable,
            "nbytes": cache.nbytes}
