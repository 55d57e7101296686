"""A small TCP proxy in front of PostgreSQL that can refuse connections or hang them.

``refuse()`` closes the listening socket and every relayed connection (clients see
ECONNREFUSED and resets); ``hang()`` keeps accepting but stops moving bytes in both directions
(a black-holed network: nothing errors, nothing answers); ``restore()`` goes back to relaying,
dropping the connections that were hung.
"""

from __future__ import annotations

import contextlib
import select
import socket
import threading


class TcpProxy:
    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = 0
        self._mode = "pass"
        self._lock = threading.Lock()
        self._pairs: list[tuple[socket.socket, socket.socket]] = []
        self._listener: socket.socket | None = None
        self._stopped = threading.Event()

    # ------------------------------------------------------------------ control
    def start(self) -> TcpProxy:
        self._listen()
        return self

    def refuse(self) -> None:
        with self._lock:
            self._mode = "refuse"
            listener, self._listener = self._listener, None
            pairs, self._pairs = self._pairs, []
        if listener is not None:
            _close(listener)  # shutdown first: a plain close leaves a blocked accept() listening
        for a, b in pairs:
            _close(a, b)

    def hang(self) -> None:
        with self._lock:
            self._mode = "hang"

    def restore(self) -> None:
        with self._lock:
            hung = self._pairs if self._mode == "hang" else []
            self._pairs = [] if hung else self._pairs
            self._mode = "pass"
            listening = self._listener is not None
        for a, b in hung:
            _close(a, b)
        if not listening:
            self._listen()

    def stop(self) -> None:
        self._stopped.set()
        self.refuse()

    # ------------------------------------------------------------------ relaying
    def _listen(self) -> None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self.port = listener.getsockname()[1]
        with self._lock:
            self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def _accept(self, listener: socket.socket) -> None:
        while not self._stopped.is_set():
            try:
                client, _addr = listener.accept()
            except OSError:
                return  # closed by refuse()
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._pairs.append((client, upstream))
            threading.Thread(target=self._relay, args=(client, upstream), daemon=True).start()

    def _relay(self, a: socket.socket, b: socket.socket) -> None:
        peers = {a: b, b: a}
        try:
            while not self._stopped.is_set():
                with self._lock:
                    mode = self._mode
                    alive = any(a is x for x, _ in self._pairs)
                if not alive:
                    return
                if mode == "hang":
                    self._stopped.wait(0.05)
                    continue
                readable, _w, _x = select.select([a, b], [], [], 0.05)
                for sock in readable:
                    data = sock.recv(65536)
                    if not data:
                        return
                    peers[sock].sendall(data)
        except OSError:
            return
        finally:
            _close(a, b)


def _close(*socks: socket.socket) -> None:
    for sock in socks:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        sock.close()
