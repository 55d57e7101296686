"""A local stand-in for the public reference repositories, served over HTTP on 127.0.0.1.

Paths follow the repositories' raw-file layout, ``/{repo}/{ref}/{file}``: the image repo holds
one JSON file per image category and an empty ``db.json`` at its root, the text repo
``models.csv`` and the ``db.json`` generated from it. Contents come from ``tests/ops_data``
(categories the corpus does not use are ``{}``). ``truncate`` names paths answered with a
Content-Length larger than the body before the connection is closed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from tests.httpserve import serve_in_thread, stop_serving

OPS = Path(__file__).resolve().parents[1] / "ops_data"
IMAGE_REPO = "AI-Horde-image-model-reference"
TEXT_REPO = "AI-Horde-text-model-reference"
IMAGE_FILES = [
    "blip.json",
    "clip.json",
    "codeformer.json",
    "controlnet.json",
    "esrgan.json",
    "gfpgan.json",
    "safety_checker.json",
    "stable_diffusion.json",
    "miscellaneous.json",
    "db.json",
]


def repository_files(ref: str = "main") -> dict[str, bytes]:
    """``{url path: body}`` for both repositories at ``ref``."""
    files: dict[str, bytes] = {}
    for name in IMAGE_FILES:
        source = OPS / "legacy" / "image" / name
        body = source.read_bytes() if source.exists() else b"{}\n"
        files[f"/{IMAGE_REPO}/{ref}/{name}"] = body
    for name in ("models.csv", "db.json"):
        files[f"/{TEXT_REPO}/{ref}/{name}"] = (OPS / "legacy" / "text" / name).read_bytes()
    return files


@dataclass
class ReferenceServer:
    files: dict[str, bytes]
    truncate: set[str] = field(default_factory=set)
    requests: list[str] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None

    @property
    def base_url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}/"

    def start(self) -> ReferenceServer:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                owner.requests.append(self.path)
                body = owner.files.get(self.path)
                if body is None:
                    self.send_response(404)
                    self.send_header("Content-Length", "14")
                    self.end_headers()
                    self.wfile.write(b"404: Not Found")
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; charset=utf-8")
                if self.path in owner.truncate:
                    self.send_header("Content-Length", str(len(body) + 4096))
                    self.send_header("Connection", "close")
                    self.end_headers()
                    self.wfile.write(body[: len(body) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                return

        self.server = serve_in_thread(Handler)
        return self

    def stop(self) -> None:
        if self.server is not None:
            stop_serving(self.server)
