# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The dx_router role (BIRD 2, BGP with BFD and MD5) on a real Debian 12 router against a real BIRD "Amazon" peer.

Topology (both are systemd-nspawn hosts in their own namespaces, harness/hosts.py)::

    customer router (the role)  dx0 198.18.44.2/30 ---- dx0 198.18.44.1/30  Amazon peer (lab.lab.dx_peer_bird_config)
    announces 198.18.70.0/24, 198.18.71.0/24            announces 198.18.60.0/24 (accepted), 198.18.61.0/24 (not)

The Amazon side runs what Direct Connect runs on a virtual interface: eBGP from AS 64512
with an MD5 key, hold 90 s / keepalive 30 s and asynchronous BFD at 300 ms x 3. The
tests run in file order on one pair of hosts: first those that need a fresh router (bad
settings, check mode), then the converged router, and last the silent cut of the link.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import subprocess
import time

import pytest

from harness.hosts import ANSIBLE_PLAYBOOK
from harness.hosts import ansible_environment
from harness.hosts import assert_succeeded
from harness.hosts import booted_host
from harness.hosts import silent_cut_script
from harness.hosts import run_playbook
from harness.hosts import write_inventory
from harness.paths import REPO_ROOT
from harness.waiting import wait_for
from lab import lab as lab_cli

pytestmark = [pytest.mark.netns]

CUSTOMER, AMAZON = "198.18.44.2", "198.18.44.1"
LOCAL_ASN, AMAZON_ASN = 65010, 64512
ANNOUNCED = ["198.18.70.0/24", "198.18.71.0/24"]
VPC_PREFIX, OTHER_AWS_PREFIX = "198.18.60.0/24", "198.18.61.0/24"
CONFIG_FILE = "/etc/bird/bird.conf"
FOREIGN_CONFIG = "# The operator's own BIRD configuration.\nrouter id 198.18.44.2;\nprotocol device { }\n"
BGP_NAME = "aws_dx"
# The peer's BGP protocol in lab.lab.dx_peer_bird_config.
AMAZON_BGP_NAME = "dx"
HOLD_S = 90
# BFD detects a silent cut in about 0.9 s (300 ms x 3) and BIRD withdraws at once. Ten
# seconds is a bound a loaded 2-core machine keeps, and still far below the 90 s hold time.
WITHDRAW_BOUND_S = 10.0
# After the repair: error wait 1 s, connect retry 2 s, then OPEN and the first UPDATE.
RETURN_BOUND_S = 30.0
LEARNED_ROUTE = re.compile(r"^%s via %s dev dx0 " % (re.escape(VPC_PREFIX), re.escape(AMAZON)), re.M)
PLAYBOOK = """---
- name: The on-premises Direct Connect router
  hosts: dx_routers
  gather_facts: false
  roles:
    - role: localzones.failover.dx_router
"""


def role_vars(key, **overrides):
    variables = {
        "dx_router_local_asn": LOCAL_ASN,
        "dx_router_amazon_asn": AMAZON_ASN,
        "dx_router_customer_address": CUSTOMER + "/30",
        "dx_router_amazon_address": AMAZON + "/30",
        "dx_router_interface": "dx0",
        "dx_router_announced_prefixes": ANNOUNCED,
        "dx_router_accepted_prefixes": [VPC_PREFIX],
        "dx_router_md5_key": key,
        # Modules over the nsenter connection's stdin: fewer round trips per task.
        "ansible_pipelining": True,
    }
    variables.update(overrides)
    return variables


class Pair:
    """The customer router, the Amazon peer, the MD5 key, inventory and playbook."""

    def __init__(self, router, amazon, directory, key):
        self.router, self.amazon, self.directory, self.key = router, amazon, directory, key
        self.playbook = os.path.join(directory, "dx_router.yml")
        with open(self.playbook, "w", encoding="utf-8") as handle:
            handle.write(PLAYBOOK)
        self.inventory = self.write_inventory(role_vars(key))

    def write_inventory(self, variables, name="inventory.yml"):
        return write_inventory(os.path.join(self.directory, name), [self.router], group="dx_routers", group_vars=variables)

    def apply(self, inventory=None, check=False):
        return run_playbook(self.playbook, inventory or self.inventory, check=check)

    def apply_verbose(self, inventory=None):
        """ansible-playbook -vvv --diff with the default (text) output: everything a user could see."""
        env = ansible_environment()
        env.pop("ANSIBLE_STDOUT_CALLBACK")
        argv = [ANSIBLE_PLAYBOOK, "-vvv", "--diff", "-i", inventory or self.inventory, self.playbook]
        return subprocess.run(argv, capture_output=True, text=True, timeout=600, cwd=REPO_ROOT, env=env, check=False)

    def birdc(self, host, *command):
        return host.run(["birdc", "-r"] + list(command), check=False).stdout

    def bgp_state(self, host, name):
        """The BGP protocol's line of `birdc show protocols` (state, since, info)."""
        lines = [line for line in self.birdc(host, "show", "protocols", name).splitlines() if line.startswith(name + " ")]
        return lines[0] if lines else ""

    def established(self):
        return "Established" in self.bgp_state(self.router, BGP_NAME) and "Established" in self.bgp_state(self.amazon, AMAZON_BGP_NAME)

    def bfd_up(self):
        return re.search(r"^%s\s+dx0\s+Up\b" % re.escape(AMAZON), self.birdc(self.router, "show", "bfd", "sessions"), re.M) is not None

    def kernel_bird_routes(self):
        return self.router.run(["ip", "-4", "route", "show", "proto", "bird"]).stdout

    def has_learned_route(self):
        return LEARNED_ROUTE.search(self.kernel_bird_routes()) is not None

    def learned_by_amazon(self):
        """Prefixes the Amazon peer learned over the session."""
        output = self.birdc(self.amazon, "show", "route", "protocol", AMAZON_BGP_NAME)
        return sorted(set(re.findall(r"^(\d+\.\d+\.\d+\.\d+/\d+)", output, re.M)))

    def set_silent_cut(self, cut):
        """Drop everything on the router's dx0 both ways, link up (nftables), or stop dropping."""
        self.router.run(["nft", "-f", "-"], input_text=silent_cut_script("lzt_dxcut", "dx0", cut))


def start_amazon_peer(amazon, key):
    # The lab's VGW side, with this test's addresses, and a second prefix the role must refuse.
    config = lab_cli.dx_peer_bird_config(local=(AMAZON, AMAZON_ASN), neighbor=(CUSTOMER, LOCAL_ASN), md5_key=key,
                                         announced=[VPC_PREFIX, OTHER_AWS_PREFIX], hold_keepalive=(HOLD_S, 30), bfd=(300, 3))
    amazon.run(["install", "-m", "0600", "-o", "bird", "-g", "bird", "/dev/stdin", CONFIG_FILE], input_text=config)
    amazon.run(["systemctl", "start", "bird.service"])


def write_bird_conf(host, text):
    host.run(["install", "-m", "0640", "-o", "bird", "-g", "bird", "/dev/stdin", CONFIG_FILE], input_text=text)


def bird_conf_backups(host):
    return host.run(["find", "/etc/bird", "-name", "bird.conf.*~"]).stdout.split()


def bird_conf_digest(host):
    return host.run(["sha256sum", CONFIG_FILE], check=False).stdout.split(" ")[0]


@contextlib.contextmanager
def router_pair(directory):
    with booted_host("dxr") as router, booted_host("aws") as amazon:
        router.lab.veth(router.netns, amazon.netns, "dx0", "dx0")
        router.lab.add_address(router.netns, "dx0", CUSTOMER + "/30")
        router.lab.add_address(amazon.netns, "dx0", AMAZON + "/30")
        key = secrets.token_urlsafe(24)
        start_amazon_peer(amazon, key)
        yield Pair(router, amazon, directory, key)


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    """A fresh customer router and a running Amazon peer (the role not applied yet)."""
    with router_pair(str(tmp_path_factory.mktemp("dx-router"))) as hosts:
        yield hosts


@pytest.fixture(scope="module")
def converged(pair):  # pylint: disable=redefined-outer-name
    """The router converged once with -vvv --diff; yields that run's output."""
    run = pair.apply_verbose()
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    started = time.monotonic()
    # The peer's UPDATE follows Established by a moment: converged means the route is in the kernel.
    wait_for(lambda: pair.established() and pair.bfd_up() and pair.has_learned_route(), 60,
             "BGP Established with BFD up and the learned route in the kernel")
    print("first converge done; BGP Established, BFD up and the route in the kernel %.1f s later" % (time.monotonic() - started))
    yield run


# --------------------------------------------------------------------------- a fresh router


def test_bad_settings_are_all_named_and_nothing_changes(pair):  # pylint: disable=redefined-outer-name
    before = bird_conf_digest(pair.router)
    bad = role_vars(
        "",
        dx_router_local_asn=4294967295,
        dx_router_amazon_address="198.18.45.1",
        dx_router_announced_prefixes=["198.18.70.1/24", "not-a-network"],
        dx_router_hold_time=0,
        dx_router_keepalive_time=30,
        dx_router_bfd_min_tx_ms=100,
        dx_router_bfd_multiplier=2,
        dx_router_bgp_name="aws-dx",
        dx_router_router_id="customer",
        dx_router_interface='dx0" ; }',
        dx_router_error_wait_time_min=30,
    )
    run = pair.apply(pair.write_inventory(bad, "bad.yml"))
    assert run.returncode != 0
    failures = run.failures(pair.router.name)
    assert len(failures) == 1, run.summary(pair.router.name)
    message = failures[0][1]["msg"]
    for setting in ("dx_router_local_asn", "dx_router_amazon_address", "198.18.70.1/24", "not-a-network", "dx_router_hold_time",
                    "dx_router_bfd_min_tx_ms", "dx_router_bfd_multiplier", "dx_router_md5_key is missing",
                    "dx_router_bgp_name must be a BIRD name", "dx_router_router_id must be an IPv4 address",
                    "dx_router_interface must be a Linux interface name",
                    "dx_router_error_wait_time_min 30 must not exceed dx_router_error_wait_time_max 16"):
        assert setting in message, message
    assert bird_conf_digest(pair.router) == before, "bird.conf changed although the settings were refused"
    assert pair.router.run(["systemctl", "is-active", "bird.service"], check=False).stdout.strip() != "active"


def test_neighbour_equal_to_local_address_is_refused(pair):  # pylint: disable=redefined-outer-name
    run = pair.apply(pair.write_inventory(role_vars(pair.key, dx_router_amazon_address=CUSTOMER), "same.yml"))
    assert run.returncode != 0
    message = run.failures(pair.router.name)[0][1]["msg"]
    assert "is the local address itself" in message, message


def test_check_mode_on_a_fresh_router_changes_nothing(pair):  # pylint: disable=redefined-outer-name
    before = bird_conf_digest(pair.router)
    run = pair.apply(check=True)
    assert_succeeded(run, pair.router)
    assert bird_conf_digest(pair.router) == before
    assert pair.router.run(["systemctl", "is-active", "bird.service"], check=False).stdout.strip() != "active"
    assert pair.key not in run.stdout + run.stderr


def test_a_bird_conf_the_role_did_not_write_is_refused_and_left_alone(pair):  # pylint: disable=redefined-outer-name
    package_default = pair.router.read_file(CONFIG_FILE)
    write_bird_conf(pair.router, FOREIGN_CONFIG)
    try:
        run = pair.apply()
        assert run.returncode != 0
        failures = run.failures(pair.router.name)
        assert failures and failures[0][0] == "Refuse to replace a bird.conf the role did not write", run.summary(pair.router.name)
        assert "dx_router_replace_config" in failures[0][1]["msg"]
        assert pair.router.read_file(CONFIG_FILE) == FOREIGN_CONFIG.encode()
        assert pair.router.run(["systemctl", "is-active", "bird.service"], check=False).stdout.strip() != "active"
    finally:
        write_bird_conf(pair.router, package_default.decode())


# --------------------------------------------------------------------------- the converged router


def test_the_packages_default_bird_conf_was_replaced_without_the_flag(pair, converged):  # pylint: disable=redefined-outer-name,unused-argument
    # The fresh router had the bird2 package's untouched default (the checksum of its copy in /usr/share).
    assert b"# localzones.failover.dx_router: " in pair.router.read_file(CONFIG_FILE)
    assert bird_conf_backups(pair.router) == []


def test_session_is_established_with_bfd(pair, converged):  # pylint: disable=redefined-outer-name,unused-argument
    assert pair.established(), pair.bgp_state(pair.router, BGP_NAME)
    assert pair.bfd_up(), pair.birdc(pair.router, "show", "bfd", "sessions")
    details = pair.birdc(pair.router, "show", "protocols", "all", BGP_NAME)
    assert re.search(r"Hold timer:\s+[\d.]+/90", details) and re.search(r"Keepalive timer:\s+[\d.]+/30", details), details


def test_learned_prefix_is_in_the_kernel_as_proto_bird(pair, converged):  # pylint: disable=redefined-outer-name,unused-argument
    routes = pair.kernel_bird_routes()  # `ip route show proto bird`: only BIRD's routes
    assert LEARNED_ROUTE.search(routes), routes
    # Not among dx_router_accepted_prefixes: refused on import.
    assert OTHER_AWS_PREFIX not in routes


def test_exactly_the_announced_prefixes_are_exported(pair, converged):  # pylint: disable=redefined-outer-name,unused-argument
    wait_for(lambda: pair.learned_by_amazon() == ANNOUNCED, 10, "the Amazon peer to learn the announced prefixes")
    # The announced prefixes stay in BIRD: the kernel gets only what BGP learned.
    assert all(prefix not in pair.kernel_bird_routes() for prefix in ANNOUNCED)


def test_config_file_is_0600_and_holds_the_key(pair, converged):  # pylint: disable=redefined-outer-name,unused-argument
    mode_owner = pair.router.run(["stat", "-c", "%a %U %G", CONFIG_FILE]).stdout.split()
    assert mode_owner == ["600", "bird", "bird"]
    assert ('password "%s";' % pair.key).encode() in pair.router.read_file(CONFIG_FILE)


def test_the_key_is_in_no_ansible_output(pair, converged):  # pylint: disable=redefined-outer-name
    assert "changed=" in converged.stdout and "Render, parse and install bird.conf" in converged.stdout
    assert pair.key not in converged.stdout and pair.key not in converged.stderr
    # A run that changes the key (and so the file) with -vvv --diff.
    new_key = secrets.token_urlsafe(24)
    rekeyed = pair.apply_verbose(pair.write_inventory(role_vars(new_key), "rekey.yml"))
    assert rekeyed.returncode == 0, rekeyed.stdout[-4000:]
    for key in (pair.key, new_key):
        assert key not in rekeyed.stdout and key not in rekeyed.stderr
    back = pair.apply_verbose()
    assert back.returncode == 0 and new_key not in back.stdout + back.stderr and pair.key not in back.stdout + back.stderr
    # Both ends use the original key again.
    wait_for(pair.established, 60, "BGP Established again with the original key")


def test_second_run_changes_nothing(pair, converged):  # pylint: disable=redefined-outer-name,unused-argument
    run = pair.apply()
    assert_succeeded(run, pair.router)
    assert run.stats(pair.router.name)["changed"] == 0, run.summary(pair.router.name)
    checked = pair.apply(check=True)
    assert_succeeded(checked, pair.router)
    assert checked.stats(pair.router.name)["changed"] == 0, checked.summary(pair.router.name)


def test_a_new_prefix_is_applied_without_resetting_the_session(pair, converged):  # pylint: disable=redefined-outer-name,unused-argument
    wait_for(pair.established, 60, "BGP Established")
    since = pair.bgp_state(pair.router, BGP_NAME).split()[3:5]
    more = ANNOUNCED + ["198.18.72.0/24"]
    run = pair.apply(pair.write_inventory(role_vars(pair.key, dx_router_announced_prefixes=more), "more.yml"))
    assert_succeeded(run, pair.router)
    assert "Reconfigure BIRD" in run.changed_tasks(pair.router.name)
    wait_for(lambda: pair.learned_by_amazon() == more, 10, "the Amazon peer to learn the new prefix")
    assert pair.bgp_state(pair.router, BGP_NAME).split()[3:5] == since, "the session was reset"
    assert_succeeded(pair.apply(), pair.router)
    wait_for(lambda: pair.learned_by_amazon() == ANNOUNCED, 10, "the Amazon peer to forget the removed prefix")


def test_a_new_config_is_live_when_the_same_run_only_flips_the_boot_setting(pair, converged):  # pylint: disable=redefined-outer-name,unused-argument
    wait_for(pair.established, 60, "BGP Established")
    more = ANNOUNCED + ["198.18.73.0/24"]
    run = pair.apply(pair.write_inventory(role_vars(pair.key, dx_router_announced_prefixes=more, dx_router_service_enabled=False), "disabled.yml"))
    assert_succeeded(run, pair.router)
    # The running BIRD announces the new prefix: it loaded the new file.
    wait_for(lambda: pair.learned_by_amazon() == more, 10, "the Amazon peer to learn the prefix of the new configuration")
    assert pair.router.run(["systemctl", "is-enabled", "bird.service"], check=False).stdout.strip() == "disabled"
    assert "Reconfigure BIRD" in run.changed_tasks(pair.router.name), run.summary(pair.router.name)


def test_a_foreign_bird_conf_is_replaced_with_the_flag_and_kept_as_a_backup(pair, converged):  # pylint: disable=redefined-outer-name,unused-argument
    # Also brings the router back to the module's settings (enabled, the two announced prefixes).
    write_bird_conf(pair.router, FOREIGN_CONFIG)
    run = pair.apply(pair.write_inventory(role_vars(pair.key, dx_router_replace_config=True), "replace.yml"))
    assert_succeeded(run, pair.router)
    backups = bird_conf_backups(pair.router)
    assert len(backups) == 1, backups
    assert pair.router.read_file(backups[0]) == FOREIGN_CONFIG.encode()
    assert b"# localzones.failover.dx_router: " in pair.router.read_file(CONFIG_FILE)
    pair.router.run(["rm", "-f"] + backups)
    wait_for(lambda: pair.established() and pair.has_learned_route() and pair.learned_by_amazon() == ANNOUNCED, 60,
             "BGP Established again with the role's configuration")
    assert pair.router.run(["systemctl", "is-enabled", "bird.service"], check=False).stdout.strip() == "enabled"


def test_a_silent_cut_withdraws_the_learned_route_well_before_the_hold_time(pair, converged):  # pylint: disable=redefined-outer-name,unused-argument
    wait_for(lambda: pair.established() and VPC_PREFIX in pair.kernel_bird_routes(), 60, "BGP Established with the VPC route")
    cut_at = time.monotonic()
    pair.set_silent_cut(True)
    details = []
    try:
        # BIRD's "Last error" at the moment the route left: BFD ended the session, not the hold timer
        # (read at once: a reconnect attempt a second later may replace it with a socket error).
        def route_left():
            if VPC_PREFIX in pair.kernel_bird_routes():
                return False
            details.append(pair.birdc(pair.router, "show", "protocols", "all", BGP_NAME))
            return True

        wait_for(route_left, WITHDRAW_BOUND_S, "the learned route to leave the kernel table")
        withdrawn_after = time.monotonic() - cut_at
        assert "BFD session down" in details[-1], details[-1]
    finally:
        pair.set_silent_cut(False)
    repaired_at = time.monotonic()
    wait_for(lambda: VPC_PREFIX in pair.kernel_bird_routes(), RETURN_BOUND_S, "the learned route to come back after the repair")
    print("silent cut: learned route out of the kernel after %.2f s (hold time %d s); back %.2f s after the repair"
          % (withdrawn_after, HOLD_S, time.monotonic() - repaired_at))
