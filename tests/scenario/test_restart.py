"""Restarts while the gateways hold queued mail (tests/scenario/topology.py): with
mxegress-server (and, in the other test, both mxegress-clients) stopped, each
gateway takes 5 messages and defers them; once the program is back, a forced queue
run (``exim -qff``, ``postqueue -f``) drains both queues and every message arrives
exactly once (counted by Message-ID in the MX's Maildir).
"""

import re
import time
import unittest

from scenario_test import ScenarioTest, message_ids

PER_GATEWAY = 5


class RestartTest(ScenarioTest):

    def queue_while_down(self, label, last_via_server):
        """Submit PER_GATEWAY messages to each gateway and wait until each gateway has
        deferred every one of them (with LAST_VIA_SERVER, Exim's last one goes through
        the server's own SOCKS5 listener). Returns the Message-IDs."""
        ex, pf = self.sc.exim, self.sc.postfix
        xmark, pmark = len(ex.log()), len(pf.log())
        ids = []
        for i in range(PER_GATEWAY):
            via_server = last_via_server and i == PER_GATEWAY - 1
            local = f"viaserver-{label}{i}" if via_server else f"{label}-x{i}"
            mid = self.unique_id(f"{label}-exim-{i}", "tenant-a.test")
            ex.send("alice@tenant-a.test", f"{local}@alpha.test", mid, label)
            ids.append(mid)
            mid = self.unique_id(f"{label}-postfix-{i}", "tenant-b.test")
            self.sc.postfix.send("carol@tenant-b.test", f"{label}-p{i}@alpha.test", mid, label)
            ids.append(mid)
        deadline = time.monotonic() + 40
        while True:
            exim_deferred = len(set(re.findall(rf"== (\S*{label}\S*@alpha\.test) .*defer",
                                               ex.log()[xmark:])))
            postfix_deferred = len(set(re.findall(rf"to=<({label}-p\d+@alpha\.test)>.*"
                                                  rf"status=deferred", pf.log()[pmark:])))
            if (exim_deferred, postfix_deferred) == (PER_GATEWAY, PER_GATEWAY):
                break
            if time.monotonic() > deadline:
                self.fail(f"deferred: exim {exim_deferred}, postfix {postfix_deferred} of "
                          f"{PER_GATEWAY} each" + self.context())
            time.sleep(0.2)
        self.assertEqual(ex.queue_count(), PER_GATEWAY, self.context())
        self.assertEqual(pf.queue_count(), PER_GATEWAY, self.context())
        delivered = message_ids(self.sc.mx_alpha)
        self.assertEqual([i for i in ids if delivered[i]], [], "delivered while down")
        return ids

    def drain_and_count(self, ids):
        """Force both queues to run; every message of IDS arrives exactly once."""
        start = time.monotonic()
        self.sc.exim.queue_run()
        self.sc.postfix.queue_run()
        self.wait_message_ids(self.sc.mx_alpha, ids, 60)
        took = time.monotonic() - start
        # a late duplicate would come from a second attempt: give the queue runners
        # (every 5 s) a chance to make one, and force another run too
        time.sleep(2)
        self.sc.exim.queue_run()
        self.sc.postfix.queue_run()
        time.sleep(6)
        counts = message_ids(self.sc.mx_alpha)
        self.assertEqual({i: counts[i] for i in ids}, {i: 1 for i in ids}, self.context())
        self.assertEqual(self.sc.exim.queue_count(), 0, self.context())
        self.assertEqual(self.sc.postfix.queue_count(), 0, self.context())
        print(f"\n{len(ids)} queued messages delivered {took:.1f}s after the forced queue run")

    def test_server_restart(self):
        server = self.sc.server
        self.assertEqual(server.stop(), [], self.context())
        marks = [c.mark() for c in (self.sc.client_exim, self.sc.client_postfix)]
        try:
            ids = self.queue_while_down("srvdown", last_via_server=True)
        finally:
            server.start()
        # the clients reconnect on their own (retry_interval 1 s) before the queue run
        for client, mark in zip((self.sc.client_exim, self.sc.client_postfix), marks):
            client.wait_for(r"pool: tunnel to \S+ opened", 15, mark)
        self.drain_and_count(ids)

    def test_client_restart(self):
        clients = (self.sc.client_exim, self.sc.client_postfix)
        for client in clients:
            self.assertEqual(client.stop(), [], self.context())
        try:
            ids = self.queue_while_down("clidown", last_via_server=False)
        finally:
            for client in clients:
                client.start()
        self.drain_and_count(ids)


if __name__ == "__main__":
    unittest.main()
