# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The strongswan role on two real Debian 12 hosts joined by an "internet" link.

Topology (each host a systemd-nspawn container in its own namespace, harness/hosts.py)::

    appliance (Local Zone side)                     cgw (on-premises customer gateway)
    lo 198.18.10.1/32  (local_ts 198.18.10.0/24)    lo 198.18.20.1/32  (local_ts 198.18.20.0/24)
    inet0 198.18.200.1/30  ------ veth ------  inet0 198.18.200.2/30

The lab kernel has no IPsec ESP, so both ends run the libipsec backend (userspace ESP
over the ipsec0 TUN device); the appliance initiates (start_action start), the customer
gateway installs trap policies. The pre-shared key comes from an Ansible Vault file.

The module converges both hosts once and the tests then look at them in file order:
the tunnel and its counters, a second run, a change to unrelated settings (the child
SA must survive it), the establishment time, and last a wrong key on one side. Every
ansible-playbook output of the module is checked for the key. Check mode gets fresh
hosts of its own.
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import json
import os
import re
import subprocess
import time
from dataclasses import dataclass
from dataclasses import field

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from harness.hosts import ANSIBLE_PLAYBOOK
from harness.hosts import ansible_environment
from harness.hosts import assert_succeeded
from harness.hosts import booted_host
from harness.hosts import run_playbook
from harness.hosts import write_inventory
from harness.netns import NetnsLab
from harness.paths import REPO_ROOT
from harness.waiting import wait_for

pytestmark = [pytest.mark.netns]

INTERNET = {"appliance": "198.18.200.1", "cgw": "198.18.200.2"}
LAN = {"appliance": "198.18.10.1", "cgw": "198.18.20.1"}
LAN_CIDR = {"appliance": "198.18.10.0/24", "cgw": "198.18.20.0/24"}
IKE_ID = {"appliance": "lz-appliance.example", "cgw": "onprem-cgw.example"}
# Characters that need quoting in swanctl.conf, so the key's encoding is exercised too.
PSK = 'Lz-test "psk" with spaces \\ and {braces} 7f3a9c'
WRONG_PSK = "definitely-not-the-key-51b0e2"
VAULT_PASSWORD = "lab-vault-password"
SERVICE = "strongswan.service"
STATUS = "/usr/local/sbin/lz-swanctl-status"
PLAYBOOK = """---
- name: Configure the site-to-site VPN
  hosts: "{{ vpn_hosts | default('lab') }}"
  gather_facts: false
  roles:
    - role: localzones.failover.strongswan
"""
PING_SUMMARY = re.compile(r"(\d+) packets transmitted, (\d+) received.*?rtt min/avg/max/mdev = ([\d.]+)/([\d.]+)/([\d.]+)/", re.S)


def connection(side, **overrides):
    """The role's connection ``site`` as seen from ``side`` (appliance or cgw)."""
    peer = "cgw" if side == "appliance" else "appliance"
    settings = {
        "name": "site",
        "local_addrs": [INTERNET[side]],
        "remote_addrs": [INTERNET[peer]],
        "local_id": IKE_ID[side],
        "remote_id": IKE_ID[peer],
        "local_ts": [LAN_CIDR[side]],
        "remote_ts": [LAN_CIDR[peer]],
        "psk": "{{ site_psk }}",
        # The appliance brings the tunnel up; the customer gateway answers and traps.
        "start_action": "start" if side == "appliance" else "trap",
    }
    settings.update(overrides)
    return settings


def secret_forms(secret):
    """The ways a key could show up in output: as is, JSON-escaped, and as written to the secrets file."""
    return {secret, json.dumps(secret)[1:-1], base64.b64encode(secret.encode()).decode()}


@dataclass
class VpnLab:
    """Both gateways, their inventory and every ansible-playbook output produced so far."""

    hosts: dict
    directory: str
    inventory: str
    playbook: str
    outputs: list = field(default_factory=list)

    def host_vars(self, side, variables):
        """Replace the host_vars of ``side`` (JSON is YAML)."""
        path = os.path.join(self.directory, "host_vars", self.hosts[side].name + ".yml")
        with open(path, "w", encoding="utf-8") as handle:
            json.dump(variables, handle, indent=2)

    def apply(self, extra_vars=None, check=False):
        """Run the role on both gateways (JSON callback)."""
        run = run_playbook(self.playbook, self.inventory, extra_vars=extra_vars, check=check)
        self.outputs.append(run.stdout + run.stderr)
        return run

    def apply_verbose(self, extra_vars=None):
        """Run the role with the default callback and -v, the way an operator reads it."""
        argv = [ANSIBLE_PLAYBOOK, "-v", "-i", self.inventory, self.playbook]
        if extra_vars:
            vars_file = os.path.join(self.directory, "verbose-extra-vars.json")
            with open(vars_file, "w", encoding="utf-8") as handle:
                json.dump(extra_vars, handle)
            argv += ["-e", "@" + vars_file]
        env = ansible_environment()
        env["ANSIBLE_STDOUT_CALLBACK"] = "ansible.builtin.default"
        completed = subprocess.run(argv, capture_output=True, text=True, timeout=600, cwd=REPO_ROOT, env=env, check=False)
        self.outputs.append(completed.stdout + completed.stderr)
        return completed


def status(host, name="site"):
    """What lz-swanctl-status (the role's verify command) reports about ``name`` right now."""
    return json.loads(host.run([STATUS, name, "--json"], check=False).stdout)


def child_sa(host):
    """The single INSTALLED CHILD SA of ``site`` with its IKE SA's unique id."""
    report = status(host)
    assert report["up"], report["message"]
    children = [(sa, child) for sa in report["ike_sas"] for child in sa["child_sas"] if child["state"] == "INSTALLED"]
    assert len(children) == 1, "expected one CHILD SA, found %s" % report["report"]
    sa, child = children[0]
    return dict(child, ike_uniqueid=sa["uniqueid"])


def ping(host, source, target, count=10, interval=0.05):
    """Counts and RTTs (ms) of a ping from ``source`` to ``target``: sent, received, min, avg, max."""
    completed = host.run(["ping", "-n", "-q", "-c", str(count), "-i", str(interval), "-W", "1", "-I", source, target], check=False)
    match = PING_SUMMARY.search(completed.stdout)
    assert match, "ping %s -> %s printed no summary: %s %s" % (source, target, completed.stdout, completed.stderr)
    return {
        "sent": int(match.group(1)), "received": int(match.group(2)),
        "min": float(match.group(3)), "avg": float(match.group(4)), "max": float(match.group(5)),
    }


def loop_results(run, host, task):
    """The per-item results of the looped task named ``task`` on ``host`` (JSON callback)."""
    results = []
    for play in run.result.get("plays", []):
        for entry in play.get("tasks", []):
            if entry["task"]["name"].split(" : ", 1)[-1] == task:
                results.extend(entry.get("hosts", {}).get(host, {}).get("results", []))
    return results


def snapshot(host):
    """Files under the directories the role writes to, with size and mtime, plus the accounts."""
    listing = host.run(["find", "/etc", "/usr/local", "/var/lib", "-xdev", "-printf", "%p %s %T@\\n"]).stdout
    return sorted(listing.splitlines()), host.read_file("/etc/passwd")


def issue_certificates():
    """A CA and one certificate per gateway (subjectAltName = its IKE identity), as PEM texts."""
    now = datetime.datetime.now(datetime.timezone.utc)

    def certificate(subject, public_key, issuer, issuer_key, ca, san=None):
        builder = (
            x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(public_key)
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if san:
            builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(san)]), critical=False)
        return builder.sign(issuer_key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM).decode()

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "lz-lab-ca")])
    pems = {"ca": certificate(ca_name, ca_key.public_key(), ca_name, ca_key, True)}
    for side in ("appliance", "cgw"):
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, IKE_ID[side])])
        pems[side] = certificate(name, key.public_key(), ca_name, ca_key, False, san=IKE_ID[side])
        pems[side + "_key"] = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
    return pems


@contextlib.contextmanager
def gateways():
    """Boot the appliance and the customer gateway and join them by the internet link."""
    with booted_host("appliance") as appliance, booted_host("cgw") as cgw:
        lab = NetnsLab()  # records nothing: the link dies with the hosts' namespaces
        lab.veth(appliance.netns, cgw.netns, "inet0", "inet0")
        for side, host in (("appliance", appliance), ("cgw", cgw)):
            lab.add_address(host.netns, "inet0", INTERNET[side] + "/30")
            host.add_loopback_address(LAN[side])
        yield {"appliance": appliance, "cgw": cgw}


def write_vault(directory):
    """group_vars/lab/vault.yml with the key encrypted by ansible-vault; returns the password file."""
    password_file = os.path.join(directory, "vault-password")
    with open(password_file, "w", encoding="utf-8") as handle:
        handle.write(VAULT_PASSWORD + "\n")
    completed = subprocess.run(
        [os.path.join(os.path.dirname(ANSIBLE_PLAYBOOK), "ansible-vault"), "encrypt_string", "--vault-password-file", password_file,
         "--stdin-name", "site_psk"],
        input=PSK, capture_output=True, text=True, check=True, env=ansible_environment(),
    )
    os.makedirs(os.path.join(directory, "group_vars", "lab"), exist_ok=True)
    with open(os.path.join(directory, "group_vars", "lab", "vault.yml"), "w", encoding="utf-8") as handle:
        handle.write("---\n" + completed.stdout)
    return password_file


def prepare(hosts, directory):
    """Inventory (group and host vars next to it), vault and playbook for ``hosts``."""
    os.makedirs(os.path.join(directory, "host_vars"), exist_ok=True)
    # Pipelining: modules go over the nsenter connection's stdin, fewer round trips per task.
    group_vars = {"strongswan_kernel_backend": "libipsec", "ansible_pipelining": True}
    inventory = write_inventory(os.path.join(directory, "inventory.yml"), list(hosts.values()), group="lab", group_vars=group_vars)
    playbook = os.path.join(directory, "vpn.yml")
    with open(playbook, "w", encoding="utf-8") as handle:
        handle.write(PLAYBOOK)
    lab = VpnLab(hosts=hosts, directory=directory, inventory=inventory, playbook=playbook)
    for side in hosts:
        lab.host_vars(side, {"strongswan_connections": [connection(side)]})
    return lab, write_vault(directory)


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def vpn(tmp_path_factory):
    """Both gateways converged once (verbose run, the way an operator would read it)."""
    with gateways() as hosts, pytest.MonkeyPatch.context() as patch:
        lab, password_file = prepare(hosts, str(tmp_path_factory.mktemp("strongswan-role")))
        patch.setenv("ANSIBLE_VAULT_PASSWORD_FILE", password_file)
        started = time.monotonic()
        completed = lab.apply_verbose()
        assert completed.returncode == 0, completed.stdout[-4000:] + completed.stderr[-2000:]
        print("first converge of both gateways: %.1f s" % (time.monotonic() - started))
        yield lab


# --------------------------------------------------------------------------- tests


def test_check_mode_on_fresh_hosts_changes_nothing(tmp_path):
    with gateways() as hosts, pytest.MonkeyPatch.context() as patch:
        lab, password_file = prepare(hosts, str(tmp_path))
        patch.setenv("ANSIBLE_VAULT_PASSWORD_FILE", password_file)
        before = {side: snapshot(host) for side, host in hosts.items()}
        run = lab.apply(check=True)
        assert_succeeded(run, *hosts.values())
        for side, host in hosts.items():
            assert snapshot(host) == before[side], "check mode changed files on the %s" % side
            assert host.run(["systemctl", "is-active", SERVICE], check=False).stdout.strip() != "active"
        print("check mode on fresh hosts: %.1f s, %s" % (run.seconds, run.stats(hosts["appliance"].name)))


def test_tunnel_is_up_with_libipsec_routes_and_private_secrets(vpn):  # pylint: disable=redefined-outer-name
    for side, host in vpn.hosts.items():
        report = status(host)
        assert report["up"], report["message"]
        peer = "cgw" if side == "appliance" else "appliance"
        child = child_sa(host)
        assert child["local_ts"] == [LAN_CIDR[side]] and child["remote_ts"] == [LAN_CIDR[peer]]
        # libipsec: the remote LAN is routed into the TUN device, in charon's table 220.
        routes = host.run(["ip", "route", "show", "table", "220"]).stdout
        assert re.search(r"^%s dev ipsec0 .*src %s" % (re.escape(LAN_CIDR[peer]), re.escape(LAN[side])), routes, re.M), routes
        assert host.run(["sysctl", "-n", "net.ipv4.ip_forward"]).stdout.strip() == "1"
        mode = host.run(["stat", "-c", "%a %U", "/etc/swanctl/conf.d/lz-failover-site.secrets.conf"]).stdout.split()
        assert mode == ["600", "root"], mode
        assert PSK not in host.read_file("/etc/swanctl/conf.d/lz-failover-site.secrets.conf").decode()
    # Both ends agree on the SA: each one's inbound SPI is the other's outbound SPI.
    appliance, cgw = child_sa(vpn.hosts["appliance"]), child_sa(vpn.hosts["cgw"])
    assert (appliance["spi_in"], appliance["spi_out"]) == (cgw["spi_out"], cgw["spi_in"])


def test_ping_between_the_lans_goes_through_the_tunnel(vpn):  # pylint: disable=redefined-outer-name
    appliance, cgw = vpn.hosts["appliance"], vpn.hosts["cgw"]
    before = child_sa(appliance)
    tunnel = ping(appliance, LAN["appliance"], LAN["cgw"], count=20)
    after = child_sa(appliance)
    sent = tunnel["sent"]
    assert tunnel["received"] == sent, "%d of %d echo requests through the tunnel were lost" % (sent - tunnel["received"], sent)
    # Every echo request leaves through the SA and every reply comes back through it.
    assert after["packets_out"] - before["packets_out"] >= sent
    assert after["packets_in"] - before["packets_in"] >= sent
    assert after["bytes_out"] - before["bytes_out"] >= 84 * sent
    assert child_sa(cgw)["packets_in"] >= sent
    direct = ping(appliance, INTERNET["appliance"], INTERNET["cgw"], count=20)
    print("ping through libipsec: min/avg/max %.3f/%.3f/%.3f ms (plain veth: avg %.3f ms); SA counters out %d -> %d bytes" % (
        tunnel["min"], tunnel["avg"], tunnel["max"], direct["avg"], before["bytes_out"], after["bytes_out"]))


def test_second_run_changes_nothing(vpn):  # pylint: disable=redefined-outer-name
    run = vpn.apply()
    assert_succeeded(run, *vpn.hosts.values())
    for host in vpn.hosts.values():
        assert run.stats(host.name)["changed"] == 0, run.summary(host.name)
    print("second converge: %.1f s" % run.seconds)


def test_verify_playbook_reports_the_sas_in_check_mode(vpn):  # pylint: disable=redefined-outer-name
    run = run_playbook(os.path.join(REPO_ROOT, "playbooks", "vpn_verify.yml"), vpn.inventory, extra_vars={"lz_vpn_hosts": "lab"}, check=True)
    vpn.outputs.append(run.stdout + run.stderr)
    assert_succeeded(run, *vpn.hosts.values())
    for host in vpn.hosts.values():
        assert run.stats(host.name)["changed"] == 0, run.summary(host.name)
        reports = [item["msg"] for item in loop_results(run, host.name, "Report the SAs and their byte counters")]
        assert reports and reports[0][0].startswith("site is up"), reports
        assert "bytes" in reports[0][2], reports


def test_unrelated_changes_reload_without_rekeying(vpn):  # pylint: disable=redefined-outer-name
    appliance = vpn.hosts["appliance"]
    before = {side: child_sa(host) for side, host in vpn.hosts.items()}
    # A second, passive connection on the appliance and a new charon log level on both.
    spare = {
        "name": "spare", "local_addrs": [INTERNET["appliance"]], "remote_addrs": ["198.18.200.6"],
        "local_ts": ["198.18.11.0/24"], "remote_ts": ["198.18.21.0/24"], "psk": "{{ site_psk }}",
        "start_action": "none", "verify": False,
    }
    vpn.host_vars("appliance", {"strongswan_connections": [connection("appliance"), spare]})
    run = vpn.apply(extra_vars={"strongswan_log_level": 2})
    assert_succeeded(run, *vpn.hosts.values())
    changed = run.changed_tasks(appliance.name)
    assert "Load the swanctl configuration" in changed and "Reload strongSwan settings" in changed, changed
    assert "Restart strongSwan" not in changed, changed
    assert "spare" in appliance.run(["swanctl", "--list-conns"]).stdout
    for side, host in vpn.hosts.items():
        after = child_sa(host)
        for key in ("ike_uniqueid", "uniqueid", "spi_in", "spi_out"):
            assert after[key] == before[side][key], "%s: %s changed from %s to %s" % (side, key, before[side][key], after[key])
    print("unrelated change reloaded in %.1f s; CHILD SA kept: SPI in %s out %s" % (
        run.seconds, before["appliance"]["spi_in"], before["appliance"]["spi_out"]))


def test_the_tunnel_comes_back_after_every_charon_restart(vpn):  # pylint: disable=redefined-outer-name
    """Behaviour: the tunnel is re-established and carries traffic; the times are printed, not judged."""
    appliance = vpn.hosts["appliance"]
    samples = []
    for _attempt in range(3):
        started = time.monotonic()
        appliance.run(["systemctl", "restart", SERVICE])
        wait_for(lambda: status(appliance)["up"], 30, "the tunnel after a restart of charon", interval=0.01)
        samples.append(time.monotonic() - started)
        assert ping(appliance, LAN["appliance"], LAN["cgw"], count=3)["received"] == 3
    print("charon restart to CHILD SA INSTALLED: %s s" % ", ".join("%.3f" % sample for sample in samples))


def test_wrong_psk_fails_the_verify_step_without_showing_any_key(vpn):  # pylint: disable=redefined-outer-name
    cgw = vpn.hosts["cgw"]
    completed = vpn.apply_verbose(extra_vars={"vpn_hosts": cgw.name, "site_psk": WRONG_PSK, "strongswan_verify_timeout": 5})
    output = completed.stdout + completed.stderr
    assert completed.returncode != 0, output[-3000:]
    assert "Fail when a connection is not ESTABLISHED/INSTALLED" in output
    assert "authentication failed" in output and "MAC mismatched" in output, output[-3000:]
    assert "failed=1" in output
    # The new key was written (the customer gateway now holds the wrong one) but never shown.
    assert "censored" in output
    for forms in (secret_forms(PSK), secret_forms(WRONG_PSK)):
        for text in vpn.outputs:
            for form in forms:
                assert form not in text, "a pre-shared key appeared in ansible-playbook output"
    message = next(line for line in output.splitlines() if line.startswith("[ERROR]") and "authentication failed" in line)
    print("verify step with a wrong key: %s" % message.strip())
    print("ansible-playbook outputs checked for the keys: %d" % len(vpn.outputs))


def test_certificates_replace_the_psk(vpn):  # pylint: disable=redefined-outer-name
    pems = issue_certificates()
    for side in vpn.hosts:
        vpn.host_vars(side, {"strongswan_connections": [connection(
            side, auth="pubkey", psk=None, local_cert=pems[side], private_key=pems[side + "_key"], ca_cert=pems["ca"])]})
    run = vpn.apply()
    assert_succeeded(run, *vpn.hosts.values())
    for side, host in vpn.hosts.items():
        # The key file of the old PSK is gone; the private key is root-only.
        assert host.read_file("/etc/swanctl/conf.d/lz-failover-site.secrets.conf") is None
        mode = host.run(["stat", "-c", "%a %U", "/etc/swanctl/private/lz-failover-site.pem"]).stdout.split()
        assert mode == ["600", "root"], mode
        report = status(host)
        assert report["up"], report["message"]
        peer = "cgw" if side == "appliance" else "appliance"
        assert report["ike_sas"][0]["remote_id"] == IKE_ID[peer]
    assert ping(vpn.hosts["appliance"], LAN["appliance"], LAN["cgw"], count=3)["received"] == 3
    key_body = [pems[side + "_key"].splitlines()[1] for side in vpn.hosts]
    for text in vpn.outputs:
        assert not any(line in text for line in key_body), "a private key appeared in ansible-playbook output"
    print("switched to certificates in %.1f s" % run.seconds)
