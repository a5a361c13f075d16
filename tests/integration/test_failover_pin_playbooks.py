# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""failover.yml and status.yml with a coordination table, run by ansible-playbook against the local endpoint.

The table is moto's DynamoDB behind the same endpoint as EC2; the tests write the
lease and the monitors' views as a monitor would, so the playbooks meet a live
holder, an expired one, or none. No monitor runs: with a live holder and a pin,
the routes are already on the pinned path, so the wait ends at its first read.
"""

from __future__ import annotations

import time

import pytest

from ansible_collections.localzones.failover.plugins.module_utils.aws.coordination import read_group
from ansible_collections.localzones.failover.plugins.module_utils.coordination.pin import active_pin
from tests.support.coordination_table import TABLE
from tests.support.coordination_table import create_coordination_table
from tests.support.coordination_table import dynamodb_client
from tests.support.coordination_table import put_lease
from tests.support.coordination_table import put_view
from tests.support.route_modules import ONPREM
from tests.support.route_modules import run_playbook
from tests.support.route_modules import static_targets

pytestmark = pytest.mark.moto

GROUP = "lz-failover"
WITH_TABLE = ("-e", "lz_failover_coordination_table=" + TABLE)


@pytest.fixture
def dynamodb(lz_world):
    client = dynamodb_client(lz_world.endpoint_url)
    create_coordination_table(client)
    return client


def live_holder(dynamodb, desired_path="dx"):
    """utility-1 holds a lease that lasts the test out; utility-2 stands by."""
    now = time.time()
    put_lease(dynamodb, GROUP, "utility-1", 4, now + 900)
    put_view(dynamodb, GROUP, "utility-1", "holder", "healthy", desired_path, now)
    put_view(dynamodb, GROUP, "utility-2", "standby", "healthy", desired_path, now)


def stored_pin(dynamodb):
    return active_pin(read_group(dynamodb, TABLE, GROUP), time.time())


def test_failover_refuses_to_fight_the_monitor_that_holds_the_lease(ec2, lz_world, dynamodb):
    live_holder(dynamodb)
    completed = run_playbook(lz_world, "failover.yml", "-e", "lz_failover_path=vpn", *WITH_TABLE)
    assert completed.returncode != 0
    output = " ".join(completed.stdout.split())
    assert "Failover monitor utility-1 holds the lease of failover group lz-failover (fencing 4) and wants the routes on dx" in output
    assert "-e lz_failover_path=vpn -e lz_failover_pin=true" in output, "the message gives the command that pins instead"
    assert static_targets(ec2, lz_world.prod_rtb_id) == [], "no route was changed"
    assert stored_pin(dynamodb) is None

    # No monitor runs here, so nothing moves the routes to the pin: the wait ends in one clear failure.
    pinned = run_playbook(lz_world, "failover.yml", "-e", "lz_failover_path=vpn", "-e", "lz_failover_pin=true", "-e", "lz_failover_pin_who=alice",
                          "-e", "lz_failover_pin_why=drill", "-e", "lz_failover_pin_wait_s=1", *WITH_TABLE)
    assert pinned.returncode != 0
    assert "The pin (vpn) is written, but the managed route tables were not all on vpn after 1 s" in " ".join(pinned.stdout.split())
    assert stored_pin(dynamodb).path == "vpn"
    assert static_targets(ec2, lz_world.prod_rtb_id) == [], "the playbook leaves the routes to the holder"


def test_pin_with_a_live_holder_then_status_then_release(ec2, lz_world, dynamodb):
    live_holder(dynamodb)
    pinned = run_playbook(lz_world, "failover.yml", "-e", "lz_failover_path=dx", "-e", "lz_failover_pin=true", "-e", "lz_failover_pin_who=alice",
                          "-e", "lz_failover_pin_why='DX maintenance CHG-1234'", "-e", "lz_failover_pin_duration_s=600", *WITH_TABLE)
    assert pinned.returncode == 0, pinned.stdout + pinned.stderr
    pin = stored_pin(dynamodb)
    assert (pin.path, pin.who, pin.why) == ("dx", "alice", "DX maintenance CHG-1234")
    assert pin.until == pytest.approx(time.time() + 600, abs=120)
    assert static_targets(ec2, lz_world.prod_rtb_id) == [], "the holder moves the routes, not the playbook"
    assert '"moved_by": "utility-1"' in pinned.stdout

    status = run_playbook(lz_world, "status.yml", *WITH_TABLE)
    assert status.returncode == 0, status.stdout + status.stderr
    output = " ".join(status.stdout.split())
    assert '"holder": "utility-1 (fencing 4)"' in output, status.stdout + status.stderr
    assert "dx until " in output and "by alice: DX maintenance CHG-1234" in output
    assert '"monitor_id": "utility-2"' in output

    released = run_playbook(lz_world, "failover.yml", "-e", "lz_failover_release_pin=true", *WITH_TABLE)
    assert released.returncode == 0, released.stdout + released.stderr
    assert stored_pin(dynamodb) is None


def test_without_a_live_holder_the_playbook_switches_and_leaves_the_pin(ec2, lz_world, dynamodb):
    put_lease(dynamodb, GROUP, "utility-1", 4, time.time() - 60)
    switched = run_playbook(lz_world, "failover.yml", "-e", "lz_failover_path=vpn", "-e", "lz_failover_pin=true",
                            "-e", "lz_failover_pin_why=drill", "-e", "lz_failover_pin_who=bob", *WITH_TABLE)
    assert switched.returncode == 0, switched.stdout + switched.stderr
    assert static_targets(ec2, lz_world.prod_rtb_id) == [(ONPREM, lz_world.vpn_eni_id)]
    pin = stored_pin(dynamodb)
    assert (pin.path, pin.until, pin.who) == ("vpn", None, "bob"), "until released: a monitor that starts later keeps it"


def test_a_pin_needs_a_table_and_a_reason(lz_world):
    completed = run_playbook(lz_world, "failover.yml", "-e", "lz_failover_path=vpn", "-e", "lz_failover_pin=true")
    assert completed.returncode != 0
    assert "A pin needs the coordination table" in completed.stdout
