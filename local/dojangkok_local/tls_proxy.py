"""An HTTPS proxy that answers for a few named hosts itself and refuses every other destination.

Some clients cannot be pointed at a local endpoint: google-github-actions/auth always posts to
https://sts.googleapis.com. They do honour `https_proxy` and an extra CA (`NODE_EXTRA_CA_CERTS`), so this proxy
takes their `CONNECT sts.googleapis.com:443`, ends TLS with a certificate for that name from a throwaway CA made for
this run (its files live in a temporary directory removed with the proxy), and relays the plain HTTP to a local
stand-in. Requests for this machine's own endpoints (http://127.0.0.1:PORT) are passed on; any other destination
is refused (403) and recorded: nothing leaves this machine through it.
"""

from __future__ import annotations

import contextlib
import re
import select
import socket
import socketserver
import ssl
import tempfile
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path

from dojangkok_local.emulator_common import HOST
from dojangkok_local.throwaway_ca import CertificateAuthority

LOOPBACK = re.compile(r"http://(?P<host>127\.0\.0\.1|localhost):(?P<port>\d+)(?P<path>/.*)?")


class InterceptingProxy(socketserver.ThreadingTCPServer):
    """`routes`: host name -> the local `host:port` that answers for it over plain HTTP."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, routes: Mapping[str, str], directory: Path) -> None:
        super().__init__((HOST, 0), _Tunnel)
        self.routes = dict(routes)
        authority = CertificateAuthority("dojangkok throwaway proxy", directory)
        self.ca = authority.certificate
        chain, key = authority.issue("proxy-server", sorted(self.routes))
        self.tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.tls.load_cert_chain(chain, key)
        self.url = f"http://{HOST}:{self.server_address[1]}"
        self.refused: list[str] = []  # every destination it would not tunnel to, in order
        self._thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="intercepting-proxy", daemon=True)

    def start(self) -> InterceptingProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()

    def client_env(self) -> dict[str, str]:
        """What a client process needs to go through it (Node and most HTTP clients read these)."""
        return {"https_proxy": self.url, "HTTPS_PROXY": self.url, "no_proxy": "127.0.0.1,localhost",
                "NO_PROXY": "127.0.0.1,localhost", "NODE_EXTRA_CA_CERTS": str(self.ca)}


class _Tunnel(socketserver.StreamRequestHandler):
    server: InterceptingProxy
    rbufsize = 0  # read the request head only: what follows it (a TLS handshake, a body) is relayed untouched

    def handle(self) -> None:
        method, target, version = [*self.rfile.readline(8192).decode("latin-1").split(), "", "", ""][:3]
        headers = []
        while (line := self.rfile.readline(8192)).strip():
            headers.append(line)
        if method == "CONNECT" and target.endswith(":443") and target[:-4] in self.server.routes:
            self._answer(target[:-4])
        elif (local := LOOPBACK.fullmatch(target)) is not None:
            # A client that sends everything through the proxy, even this machine's own endpoints (the AWS
            # action's HTTP handler ignores no_proxy): passed on, as nothing leaves the machine.
            with socket.create_connection((local["host"], int(local["port"])), timeout=60) as plain:
                plain.sendall(f"{method} {local['path'] or '/'} {version}\r\n".encode("latin-1") + b"".join(headers)
                              + b"\r\n")
                _relay(self.connection, plain)
        else:
            self.server.refused.append(target)
            self.wfile.write(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")

    def _answer(self, host: str) -> None:
        """TLS for `host` ends here; its plain HTTP goes to the stand-in that answers for it."""
        self.wfile.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        address, _, port = self.server.routes[host].rpartition(":")
        with self.server.tls.wrap_socket(self.connection, server_side=True) as tls, \
                socket.create_connection((address, int(port)), timeout=60) as plain:
            _relay(tls, plain)


def _relay(client: socket.socket, plain: socket.socket) -> None:
    """Copy bytes both ways until either side closes (one thread: an SSL socket is not shared between threads)."""
    peers = {client: plain, plain: client}
    while True:
        readable, _, _ = select.select(list(peers), [], [], 60)
        if not readable:
            return
        for side in readable:
            data = side.recv(65536)
            while isinstance(side, ssl.SSLSocket) and side.pending():
                data += side.recv(65536)
            if not data:
                return
            peers[side].sendall(data)


@contextlib.contextmanager
def running(routes: Mapping[str, str]) -> Iterator[InterceptingProxy]:
    with tempfile.TemporaryDirectory(prefix="dojangkok-proxy-") as directory:
        proxy = InterceptingProxy(routes, Path(directory)).start()
        try:
            yield proxy
        finally:
            proxy.stop()
