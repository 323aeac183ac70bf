"""The block codecs of the Avro specification, both ways, for container files.

Files written by Spark (snappy by default), avro-tools or any other Avro library may use
any of them. The container reader and writer of this package compress and decompress
blocks here; the libraries are the ones fastavro itself uses (cramjam for snappy,
backports.zstd, which is Python 3.14's compression.zstd, for zstandard; bz2 and lzma are
the standard library's), so fastavro reads what is written here and the other way round.
"""

from __future__ import annotations

import bz2
import lzma
import struct
import sys
import zlib
from collections.abc import Callable

import cramjam

if sys.version_info >= (3, 14):
    from compression import zstd
else:
    from backports import zstd

# Every codec of the specification ("Object Container Files", "Required Codecs" and
# "Optional Codecs").
CODECS = ("null", "deflate", "snappy", "zstandard", "bzip2", "xz")


class CodecError(ValueError):
    """Block data the codec cannot decompress (or a snappy block whose CRC does not match)."""


def _deflate(data: bytes) -> bytes:
    # What fastavro's deflate codec writes: zlib's stream without its 2-byte header and
    # the last byte of its checksum (readers inflate raw deflate and ignore the rest).
    return zlib.compress(data)[2:-1]


def _snappy(data: bytes) -> bytes:
    # Snappy blocks end with the CRC-32 of the uncompressed data, big-endian.
    return bytes(cramjam.snappy.compress_raw(data)) + struct.pack(">I", zlib.crc32(data))


def _unsnappy(data: bytes) -> bytes:
    out = bytes(cramjam.snappy.decompress_raw(data[:-4]))
    if struct.pack(">I", zlib.crc32(out)) != data[-4:]:
        raise CodecError("snappy block CRC-32 does not match its data")
    return out


_COMPRESS: dict[str, Callable[[bytes], bytes]] = {
    "null": bytes,
    "deflate": _deflate,
    "snappy": _snappy,
    "zstandard": zstd.compress,
    "bzip2": bz2.compress,
    "xz": lzma.compress,
}
_DECOMPRESS: dict[str, Callable[[bytes], bytes]] = {
    "null": bytes,
    "deflate": lambda data: zlib.decompress(data, -15),
    "snappy": _unsnappy,
    "zstandard": zstd.decompress,
    "bzip2": bz2.decompress,
    "xz": lzma.decompress,
}


def compress(codec: str, data: bytes) -> bytes:
    return _COMPRESS[codec](data)


def decompress(codec: str, data: bytes) -> bytes:
    """The block's records; CodecError when the data is not what the codec wrote."""
    try:
        return _DECOMPRESS[codec](data)
    except CodecError:
        raise
    except Exception as exc:  # zlib.error, OSError, LZMAError, ZstdError, cramjam's
        raise CodecError(f"{codec} data is corrupt: {exc}") from None


__all__ = ["CODECS", "CodecError", "compress", "decompress"]
