"""``mxegress-server check`` (issue 21) against a real DNS server.

dnsmasq (tests/lib/dnslab.py) on 127.0.0.53 serves the lab's zones; the server's
``[resolver]`` asks it alone. The source addresses 192.0.2.10-13, .20 and 2001:db8::10
are added to ``lo`` of the test's namespace; 192.0.2.99 is not.

  example.org        TXT "v=spf1 include:_spf.example.net mx -all", MX mail1.example.net
  _spf.example.net   TXT "v=spf1 ip4:192.0.2.0/28 ip6:2001:db8::/64 -all"
  example.com        TXT "v=spf1 -all"
  mail1/2/3/6.example.net  A/AAAA with PTR back: 192.0.2.10, .20, .13, 2001:db8::10
  192.0.2.11         no PTR (NXDOMAIN)
  192.0.2.12         PTR liar.example.net, whose A is 198.51.100.99 (does not confirm)
  zen.test           13.2.0.192.zen.test A 127.0.0.2, TXT "Listed for testing"

  good.toml   good (192.0.2.10, 2001:db8::10, domain example.org), plain (192.0.2.10, no
              domain: SPF skipped), anyone (source "any") -> exit 0
  mixed.toml  one tenant per failure -> exit 1; --json checked field by field
"""

import json
import shutil
import subprocess
import tempfile
import unittest

from dnslab import Dnsmasq, SilentDns
from mxtest import add_local_address, keygen, run_server, toml_value

DNS = "127.0.0.53"
LOCAL = ["192.0.2.10", "192.0.2.11", "192.0.2.12", "192.0.2.13", "192.0.2.20",
         "2001:db8::10"]
ZONE = "zen.test"


def tenant_table(name: str, key: str, **keys) -> str:
    values = {"name": name, "keys": [key], **keys}
    return "[[tenant]]\n" + "".join(f"{k} = {toml_value(v)}\n" for k, v in values.items())


class CheckTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        for ip in LOCAL:
            add_local_address(ip)
        cls.tmp = tempfile.mkdtemp(prefix="mxcheck-")
        cls.dns = Dnsmasq(
            cls.tmp, listen=DNS,
            hosts={"mail1.example.net": ["192.0.2.10"], "mail2.example.net": ["192.0.2.20"],
                   "mail3.example.net": ["192.0.2.13"], "mail6.example.net": ["2001:db8::10"],
                   "liar.example.net": ["198.51.100.99"],
                   f"13.2.0.192.{ZONE}": ["127.0.0.2"]},
            ptr={"192.0.2.12": "liar.example.net"},
            txt={"example.org": ["v=spf1 include:_spf.example.net mx -all"],
                 "_spf.example.net": ["v=spf1 ip4:192.0.2.0/28 ip6:2001:db8::/64 -all"],
                 "example.com": ["v=spf1 -all"],
                 f"13.2.0.192.{ZONE}": ["Listed for testing"]},
            mx={"example.org": ["mail1.example.net"]},
            local=["example.org", "example.net", "example.com", ZONE, "2.0.192.in-addr.arpa",
                   "100.51.198.in-addr.arpa", "8.b.d.0.1.0.0.2.ip6.arpa"])
        cls.keys = [keygen(f"{cls.tmp}/k{i}.key") for i in range(8)]

    @classmethod
    def tearDownClass(cls):
        cls.dns.close()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def write_config(self, name: str, tenants: list[str], resolver=None) -> str:
        resolver = resolver or {"servers": [DNS], "timeout": "3s"}
        text = ('[server]\nlisten = ["127.0.0.1:8443"]\ncert = "server.crt"\n'
                'key = "server.key"\n\n[resolver]\n'
                + "".join(f"{k} = {toml_value(v)}\n" for k, v in resolver.items())
                + "\n" + "\n".join(tenants))
        path = f"{self.tmp}/{name}"
        with open(path, "w") as f:
            f.write(text)
        return path

    def check(self, config: str, *args: str) -> subprocess.CompletedProcess:
        cp = run_server("-c", config, "check", *args, timeout=60)
        self.assertNotIn("ERROR: AddressSanitizer", cp.stderr)
        self.assertNotIn("runtime error:", cp.stderr)
        return cp

    def good_config(self) -> str:
        return self.write_config("good.toml", [
            tenant_table("good", self.keys[0], source=["192.0.2.10", "2001:db8::10"],
                         domain="example.org"),
            tenant_table("plain", self.keys[1], source=["192.0.2.10"]),
            tenant_table("anyone", self.keys[2], source="any")])

    def mixed_config(self) -> str:
        keys = iter(self.keys)
        return self.write_config("mixed.toml", [
            tenant_table(name, next(keys), source=[ip], domain="example.org")
            for name, ip in (("noptr", "192.0.2.11"), ("liar", "192.0.2.12"),
                             ("outside", "192.0.2.20"), ("listed", "192.0.2.13"),
                             ("absent", "192.0.2.99"))])

    @staticmethod
    def checks_of(report: dict, tenant: str) -> dict:
        """{check name (dnsbl with its zone): check} of the one address of TENANT."""
        [t] = [t for t in report["tenants"] if t["tenant"] == tenant]
        [address] = t["addresses"]
        return {c["check"] + (" " + c["zone"] if c["check"] == "dnsbl" else ""): c
                for c in address["checks"]}

    def test_all_pass_exits_0_with_a_table(self):
        cp = self.check(self.good_config(), "--dnsbl", ZONE)
        self.assertEqual(cp.returncode, 0, cp.stdout + cp.stderr)
        self.assertEqual(cp.stdout.splitlines()[0].split(),
                         ["TENANT", "ADDRESS", "CHECK", "RESULT", "DETAIL"])
        self.assertIn("ptr mail1.example.net", cp.stdout)
        self.assertIn("ptr mail6.example.net", cp.stdout)
        self.assertIn("spf pass (ip4:192.0.2.0/28 in _spf.example.net)", cp.stdout)
        self.assertIn("spf pass (ip6:2001:db8::/64 in _spf.example.net)", cp.stdout)
        self.assertIn(f"not listed on {ZONE}", cp.stdout)
        self.assertIn("fcrdns ok (mail6.example.net has 2001:db8::10)", cp.stdout)
        lines = [line for line in cp.stdout.splitlines() if line.startswith("good ")]
        self.assertEqual(len(lines), 2 * 5, cp.stdout)  # bind ptr fcrdns spf dnsbl, twice
        for line in lines:
            self.assertRegex(line, r"^good\s+\S+\s+(bind|ptr|fcrdns|spf|dnsbl)\s+(zen\.test\s+)?ok\s")
        plain_spf = [line for line in cp.stdout.splitlines()
                     if line.startswith("plain ") and " spf " in line]
        self.assertEqual(len(plain_spf), 1)
        self.assertRegex(plain_spf[0], r"\sskipped\s+spf skipped")
        self.assertRegex(cp.stdout, r"anyone\s+any\s.*nothing to check")
        self.assertIn("3 addresses checked, 0 with a failing check", cp.stdout)

    def test_domain_option_replaces_the_tenants_domain(self):
        cp = self.check(self.good_config(), "--domain", "example.com", "--json")
        self.assertEqual(cp.returncode, 1, cp.stdout + cp.stderr)
        report = json.loads(cp.stdout)
        self.assertFalse(report["ok"])
        for tenant in ("good", "plain"):
            t = [t for t in report["tenants"] if t["tenant"] == tenant][0]
            self.assertEqual(t["domain"], "example.com")
            for address in t["addresses"]:
                spf = [c for c in address["checks"] if c["check"] == "spf"][0]
                self.assertEqual(spf["result"], "fail")
                self.assertEqual(spf["spf"], "fail")
                self.assertEqual(spf["mechanism"], "-all")
                self.assertEqual(spf["matched_in"], "example.com")

    def test_each_failure_in_json(self):
        cp = self.check(self.mixed_config(), "--json", "--dnsbl", ZONE)
        self.assertEqual(cp.returncode, 1, cp.stdout + cp.stderr)
        report = json.loads(cp.stdout)
        self.assertFalse(report["ok"])
        self.assertEqual([t["tenant"] for t in report["tenants"]],
                         ["noptr", "liar", "outside", "listed", "absent"])
        for t in report["tenants"]:
            self.assertEqual(t["source"], "list")
            self.assertEqual(t["domain"], "example.org")
            self.assertFalse(t["ok"])

        noptr = self.checks_of(report, "noptr")
        self.assertEqual(noptr["bind"]["result"], "ok")
        self.assertEqual(noptr["ptr"]["result"], "fail")
        self.assertEqual(noptr["ptr"]["names"], [])
        self.assertEqual(noptr["fcrdns"]["result"], "fail")
        self.assertEqual(noptr["spf"]["result"], "ok")
        self.assertEqual(noptr["spf"]["spf"], "pass")
        self.assertEqual(noptr["spf"]["mechanism"], "ip4:192.0.2.0/28")
        self.assertEqual(noptr["spf"]["matched_in"], "_spf.example.net")
        self.assertEqual(noptr[f"dnsbl {ZONE}"]["result"], "ok")

        liar = self.checks_of(report, "liar")
        self.assertEqual(liar["ptr"]["result"], "ok")
        self.assertEqual(liar["ptr"]["names"], ["liar.example.net"])
        self.assertEqual(liar["fcrdns"]["result"], "fail")
        self.assertEqual(liar["fcrdns"]["detail"],
                         "fcrdns: liar.example.net does not resolve to 192.0.2.12")

        outside = self.checks_of(report, "outside")
        self.assertEqual(outside["ptr"]["names"], ["mail2.example.net"])
        self.assertEqual(outside["fcrdns"]["result"], "ok")
        self.assertEqual(outside["spf"]["result"], "fail")
        self.assertEqual(outside["spf"]["mechanism"], "-all")
        self.assertEqual(outside["spf"]["matched_in"], "example.org")
        self.assertEqual(outside["spf"]["detail"], "spf fail (-all in example.org)")

        listed = self.checks_of(report, "listed")
        bl = listed[f"dnsbl {ZONE}"]
        self.assertEqual(bl["result"], "fail")
        self.assertEqual(bl["codes"], ["127.0.0.2"])
        self.assertEqual(bl["reason"], "Listed for testing")
        self.assertEqual(bl["detail"], f"listed on {ZONE}: 127.0.0.2 'Listed for testing'")
        self.assertEqual(listed["spf"]["result"], "ok")
        self.assertEqual(listed["fcrdns"]["result"], "ok")

        absent = self.checks_of(report, "absent")
        self.assertEqual(absent["bind"]["result"], "fail")
        self.assertIn("not an address of this host", absent["bind"]["detail"])
        self.assertEqual(absent["spf"]["result"], "fail", "192.0.2.99 is outside the /28")

    def test_table_names_each_failure(self):
        cp = self.check(self.mixed_config(), "--dnsbl", ZONE)
        self.assertEqual(cp.returncode, 1, cp.stdout + cp.stderr)
        self.assertRegex(cp.stdout, r"liar\s+192\.0\.2\.12\s+fcrdns\s+FAIL\s+fcrdns: liar")
        self.assertRegex(cp.stdout, rf"listed\s+192\.0\.2\.13\s+dnsbl {ZONE}\s+FAIL\s+listed on")
        self.assertRegex(cp.stdout, r"absent\s+192\.0\.2\.99\s+bind\s+FAIL\s+not an address")
        self.assertIn("5 addresses checked, 5 with a failing check", cp.stdout)

    def test_dns_timeout_is_an_error_not_a_pass(self):
        with SilentDns() as silent:
            host, port = silent.address
            config = self.write_config("silent.toml", [
                tenant_table("good", self.keys[0], source=["192.0.2.10"], domain="example.org")],
                resolver={"servers": [f"{host}:{port}"], "timeout": "1s", "tries": 1})
            cp = self.check(config, "--json", "--dnsbl", ZONE)
        self.assertEqual(cp.returncode, 1, cp.stdout + cp.stderr)
        checks = self.checks_of(json.loads(cp.stdout), "good")
        self.assertEqual(checks["bind"]["result"], "ok")
        for name in ("ptr", "fcrdns", "spf", f"dnsbl {ZONE}"):
            self.assertEqual(checks[name]["result"], "error", checks[name])
        self.assertEqual(checks["ptr"]["detail"], "error: timeout (PTR)")
        self.assertEqual(checks["spf"]["error"], "TXT example.org: timeout")

    def test_usage_and_configuration_errors_exit_2(self):
        config = self.good_config()
        for args in (["--bogus"], ["--domain"], ["--domain", "not a domain"], ["--dnsbl"]):
            cp = self.check(config, *args)
            self.assertEqual(cp.returncode, 2, f"{args}: {cp.stdout} {cp.stderr}")
        cp = self.check(f"{self.tmp}/missing.toml")
        self.assertEqual(cp.returncode, 2, cp.stderr)
        self.assertIn("missing.toml", cp.stderr)
        cp = run_server("check", "--help")
        self.assertEqual(cp.returncode, 0)
        self.assertIn("--dnsbl", cp.stdout)


if __name__ == "__main__":
    unittest.main()
