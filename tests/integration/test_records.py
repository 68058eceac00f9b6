"""Who protects the tunnel's TLS records after the handshake, through the real pair.

Each program either hands its records to its own TLS 1.3 record layer (intel-ipsec-mb's
AEAD, when the build and the CPU have it) or leaves them with OpenSSL
(MXEGRESS_TLS_RECORDS=openssl). The wire is TLS 1.3 either way, so every mix must
relay bytes unchanged; the server's "auth ok" line names the layer each tunnel used.
"""

import hashlib
import re
import socket
import threading
import unittest

from mxtest import Pair, SourceServer, pattern_bytes, run_server, sha256

BULK = 8 * 1024 * 1024  # each way, at the same time


def available_record_layer() -> str:
    """What this build and CPU use after the handshake, as the programs report it."""
    cp = run_server("--version")
    m = re.search(r"TLS records after the handshake: (\S+)", cp.stdout)
    assert m, cp.stdout
    return m.group(1)  # "openssl" or e.g. "intel-ipsec-mb-1.3.0-avx512"


class RecordLayerMixTest(unittest.TestCase):
    def relay_both_ways(self, pair: Pair, source: SourceServer) -> None:
        up = pattern_bytes(BULK, seed=5)
        sock = pair.open("127.0.0.1", source.port, timeout=60)
        self.addCleanup(sock.close)
        errors = []

        def sender():
            try:
                sock.sendall(up)
                sock.shutdown(socket.SHUT_WR)
            except OSError as e:
                errors.append(e)

        t = threading.Thread(target=sender, daemon=True)
        t.start()
        h = hashlib.sha256()
        got = 0
        while True:
            data = sock.recv(1 << 18)
            if not data:
                break
            h.update(data)
            got += len(data)
        t.join(60)
        self.assertEqual(errors, [])
        rec = source.wait_finished(timeout=60)
        self.assertEqual(got, BULK)
        self.assertEqual(h.hexdigest(), source.payload_sha256, "down")
        self.assertEqual(rec.received_len, BULK)
        self.assertEqual(rec.received_sha256, sha256(up), "up")

    def run_mix(self, client_env, server_env, expect_server_records):
        source = SourceServer(BULK, "127.0.0.1", timeout=60)
        self.addCleanup(source.close)
        with Pair(ports=[source.port], client_env=client_env, server_env=server_env) as pair:
            self.relay_both_ways(pair, source)
            line = pair.server.wait_for(r"auth ok .* records=(\S+)")
            self.assertEqual(line.group(1), expect_server_records, line.group(0))
            self.assertRegex(line.group(0), r"cipher=TLS_AES_128_GCM_SHA256")
            return pair.client.text()

    def test_both_sides_use_what_they_have(self):
        layer = available_record_layer()
        client_log = self.run_mix({}, {}, layer)
        self.assertIn(f"TLS records after the handshake: {layer}", client_log)

    def test_a_client_on_openssl_records_and_a_server_on_its_own(self):
        client_log = self.run_mix({"MXEGRESS_TLS_RECORDS": "openssl"}, {},
                                  available_record_layer())
        self.assertIn("TLS records after the handshake: openssl (MXEGRESS_TLS_RECORDS=openssl)",
                      client_log)

    def test_a_server_on_openssl_records_and_a_client_on_its_own(self):
        self.run_mix({}, {"MXEGRESS_TLS_RECORDS": "openssl"}, "openssl")


if __name__ == "__main__":
    unittest.main()
