"""The operator's two tools against the scenario's DNS server and MX hosts (issue 21):

- ``mxegress-client probe`` from the cloud, with the Exim client's own configuration
  (its key, tenant exim-gw): a domain whose MX does STARTTLS (the MX certificate's
  fingerprint and the tenant's source address are reported), a domain whose preferred
  MX refuses (the refusal is reported, the second MX probed), the silent MX (the
  server's connect timeout, named), and an MX without STARTTLS (exit 7, named).
- ``mxegress-server check`` on the egress host, asking the scenario's DNS server:
  the exim-gw source passes everything (PTR, forward-confirmed, SPF of tenant-a.test,
  not on the DNSBL); the others each fail one check: the postfix-gw source is not in
  tenant-a.test's SPF and is listed on bl.test, one address has no PTR, one a PTR
  that does not resolve back, one is not on the host.
"""

from __future__ import annotations

import json
import os
import subprocess

import mta
import mxtest
from scenario_test import ScenarioTest
from topology import (DNS, DNSBL_ZONE, EGRESS_CLOUD_SIDE, MX_PLAIN, SOURCE_EXIM,
                      SOURCE_NO_PTR, SOURCE_POSTFIX, SOURCE_UNCONFIRMED, TUNNEL_PORT)


class PlainMX(mta.PostfixMX):
    """A real Postfix MX that does not offer STARTTLS."""

    def _prepare(self):
        super()._prepare()
        subprocess.run(["postconf", "-c", self.etc, "-e", "smtpd_tls_security_level = none"],
                       check=True, capture_output=True)


class ToolsTest(ScenarioTest):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        sc = cls.sc
        cls.mx_plain = PlainMX(MX_PLAIN, 25, os.path.join(sc.dir, "mx-plain"),
                               hostname="mx.delta.test", domain="delta.test")
        cls.addClassCleanup(cls.mx_plain.stop)
        with sc.ns["internet"].entered():
            cls.mx_plain.start()
        # addresses of the egress host that only `check` looks at
        for ip in (SOURCE_NO_PTR, SOURCE_UNCONFIRMED):
            sc.ns["egress"].ip("addr", "add", f"{ip}/32", "dev", "lo")

    # ---- probe -----------------------------------------------------------------
    def probe(self, target: str, *args: str) -> subprocess.CompletedProcess:
        """The probe in the cloud (`ip netns exec`: the cloud's resolv.conf, the
        scenario's DNS server, for the MX lookup), with the Exim client's config."""
        cp = self.sc.ns["cloud"].exec(
            mxtest.client_bin(), "-c", self.sc.client_exim.config_path, "probe", target,
            "--timeout", "10", "--helo", "gw-exim.cloud.test", *args, check=False, timeout=60)
        self.assertNotIn("ERROR: AddressSanitizer", cp.stderr)
        self.assertNotIn("runtime error:", cp.stderr)
        return cp

    def probe_json(self, target: str, *args: str) -> tuple[int, dict]:
        cp = self.probe(target, "--json", *args)
        try:
            return cp.returncode, json.loads(cp.stdout)
        except ValueError:
            self.fail(f"not JSON: {cp.stdout!r} {cp.stderr}" + self.context())

    def test_probe_of_a_domain_reports_the_mx_certificate_and_the_tenant_source(self):
        code, report = self.probe_json("alpha.test")
        self.assertEqual(code, 0, report)
        self.assertTrue(report["ok"], report)
        self.assertEqual(report["mx_host"], "mx1.alpha.test")
        self.assertEqual(report["server"], f"{EGRESS_CLOUD_SIDE}:{TUNNEL_PORT}")
        self.assertEqual(report["source"].rsplit(":", 1)[0], SOURCE_EXIM)
        self.assertEqual(report["banner_code"], 220)
        self.assertTrue(report["starttls_offered"])
        cert = report["tls"]["certificate"]
        fingerprint = cert["sha256"]
        self.assertEqual(fingerprint.replace(":", "").lower(), self.sc.mx_alpha.cert_sha256())
        self.assertIn("mx1.alpha.test", cert["dns_names"])
        # The MX saw the probe from the tenant's source address.
        self.assertRegex(self.sc.mx_alpha.log(), rf"connect from \S+\[{SOURCE_EXIM}\]")

    def test_probe_reports_the_refusing_preferred_mx_and_probes_the_second(self):
        cp = self.probe("beta.test")
        self.assertEqual(cp.returncode, 0, cp.stdout + cp.stderr)
        self.assertRegex(cp.stdout, r"connect\s+FAIL.*mx-down\.beta\.test:25.*connection refused")
        self.assertRegex(cp.stdout, rf"connect\s+ok\s+mx2\.beta\.test:25 from {SOURCE_EXIM}:")
        self.assertIn("probe OK: mx2.beta.test", cp.stdout)

    def test_probe_of_the_silent_mx_names_the_connect_step(self):
        code, report = self.probe_json("gamma.test")
        self.assertEqual(code, 5, report)
        self.assertEqual(report["failed_step"], "connect")
        self.assertRegex(report["reason"], r"(?i)timed out|TTL expired|unreachable")

    def test_probe_of_an_mx_without_starttls_fails_at_starttls(self):
        cp = self.probe("delta.test")
        self.assertEqual(cp.returncode, 7, cp.stdout + cp.stderr)
        self.assertIn("probe FAILED at starttls: STARTTLS not offered (exit 7)", cp.stderr)
        # --no-tls: the banner and EHLO were fine
        self.assertEqual(self.probe("delta.test", "--no-tls").returncode, 0)

    # ---- check -----------------------------------------------------------------
    def write_server_config(self, name: str, tenants: list[tuple[str, list[str]]]) -> str:
        text = (f'[server]\nlisten = ["{EGRESS_CLOUD_SIDE}:9443"]\ncert = "server.crt"\n'
                f'key = "server.key"\n\n[resolver]\nservers = ["{DNS}"]\ntimeout = "3s"\n')
        for tenant, sources in tenants:
            key = mxtest.keygen(os.path.join(self.sc.dir, f"{name}-{tenant}.key"))
            text += (f'\n[[tenant]]\nname = "{tenant}"\nkeys = ["{key}"]\n'
                     f'source = {mxtest.toml_value(sources)}\ndomain = "tenant-a.test"\n')
        path = os.path.join(self.sc.dir, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def check(self, config: str, *args: str) -> subprocess.CompletedProcess:
        cp = self.sc.ns["egress"].exec(mxtest.server_bin(), "-c", config, "check", *args,
                                       check=False, timeout=60)
        self.assertNotIn("ERROR: AddressSanitizer", cp.stderr)
        return cp

    def test_check_passes_the_tenant_whose_dns_is_right(self):
        config = self.write_server_config("check-good.toml", [("exim-gw", [SOURCE_EXIM])])
        cp = self.check(config, "--dnsbl", DNSBL_ZONE)
        self.assertEqual(cp.returncode, 0, cp.stdout + cp.stderr)
        self.assertRegex(cp.stdout, rf"exim-gw\s+{SOURCE_EXIM}\s+ptr\s+ok\s+ptr out-exim\.egress\.test")
        self.assertIn("1 addresses checked, 0 with a failing check", cp.stdout)

    def test_check_names_each_failure(self):
        config = self.write_server_config("check-mixed.toml", [
            ("good", [SOURCE_EXIM]), ("outside-spf", [SOURCE_POSTFIX]),
            ("noptr", [SOURCE_NO_PTR]), ("unconfirmed", [SOURCE_UNCONFIRMED]),
            ("absent", ["10.30.2.77"])])
        cp = self.check(config, "--json", "--dnsbl", DNSBL_ZONE)
        self.assertEqual(cp.returncode, 1, cp.stdout + cp.stderr)
        report = json.loads(cp.stdout)

        def checks(tenant):
            [t] = [t for t in report["tenants"] if t["tenant"] == tenant]
            [address] = t["addresses"]
            return {c["check"]: c for c in address["checks"]}

        good = checks("good")
        self.assertTrue(all(c["result"] == "ok" for c in good.values()), good)
        outside = checks("outside-spf")
        self.assertEqual(outside["spf"]["result"], "fail")
        self.assertEqual(outside["spf"]["detail"], "spf fail (-all in tenant-a.test)")
        self.assertEqual(outside["dnsbl"]["result"], "fail")
        self.assertEqual(outside["dnsbl"]["detail"],
                         f"listed on {DNSBL_ZONE}: 127.0.0.2 'Listed for testing'")
        self.assertEqual(outside["fcrdns"]["result"], "ok")
        noptr = checks("noptr")
        self.assertEqual(noptr["ptr"]["result"], "fail")
        self.assertEqual(noptr["bind"]["result"], "ok")
        unconfirmed = checks("unconfirmed")
        self.assertEqual(unconfirmed["ptr"]["names"], ["out-other.egress.test"])
        self.assertEqual(unconfirmed["fcrdns"]["result"], "fail")
        absent = checks("absent")
        self.assertEqual(absent["bind"]["result"], "fail")
