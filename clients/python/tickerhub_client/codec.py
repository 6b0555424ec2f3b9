"""Turning frames into messages: JSON text, or (subprotocol `tickerhub.v1.zstd`) binary frames of
zstd-compressed JSON with the hub's shared dictionary, fetched once per dictionary id."""
import ssl
import urllib.request
from urllib.parse import urlsplit

ZSTD_SUBPROTOCOL = "tickerhub.v1.zstd"


def http_base(ws_url: str) -> str:
    """`ws://host:port/ws` -> `http://host:port` (and wss -> https)."""
    parts = urlsplit(ws_url)
    return f"{'https' if parts.scheme == 'wss' else 'http'}://{parts.netloc}"


class Decoder:
    """Decodes one connection's frames. Plain until `use_zstd` is called for a connection that got
    the zstd subprotocol."""

    def __init__(self, ssl_context: ssl.SSLContext | None = None):
        self._ssl = ssl_context
        self._zstd = None
        self._dictionaries: dict[int, object] = {}
        self._base = None

    def use_zstd(self, ws_url: str) -> None:
        import zstandard  # optional: pip install tickerhub-client[zstd]
        self._zstd = zstandard
        self._base = http_base(ws_url)

    def use_plain(self) -> None:
        self._zstd = None

    def needs_dictionary(self, frame: bytes) -> bool:
        return self._zstd is not None and self._zstd.get_frame_parameters(frame).dict_id not in self._dictionaries

    def fetch_dictionary(self, frame: bytes) -> None:
        """Blocking (an HTTP GET): the client runs it off the event loop."""
        dict_id = self._zstd.get_frame_parameters(frame).dict_id
        with urllib.request.urlopen(f"{self._base}/v1/zstd/dictionary/{dict_id}", context=self._ssl, timeout=10) as response:
            dictionary = self._zstd.ZstdCompressionDict(response.read())
        self._dictionaries[dict_id] = self._zstd.ZstdDecompressor(dict_data=dictionary)

    def text(self, frame: str | bytes) -> str | bytes:
        """The JSON text of one frame (bytes for a zstd frame)."""
        if isinstance(frame, str):
            return frame
        if self._zstd is None:
            raise ValueError("a binary frame on a connection without zstd")
        dict_id = self._zstd.get_frame_parameters(frame).dict_id
        return self._dictionaries[dict_id].decompress(frame)
