"""The README's blackhole cases ("What the collection may change: ownership"), end to end as a user gets them:
routes made through the endpoint, the interface then deleted so EC2 (the fidelity endpoint) reports the routes
as ``blackhole``, lz_route_failover run by Ansible itself, the monitor's actuator in process (a fake clock, no
thread), and the command the README names run by the AWS CLI.

The planning rules are unit-tested (tests/unit/plugins/module_utils/routes), the module in-process
(tests/unit/plugins/modules/test_route_failover_review.py) and the message of a blackholed conflict through
Ansible (test_route_failover_modules.py); here the README's statements are followed to their end: check mode
of the failback, the refusal and the warning through Ansible, the README's example command against the real
one, and that command run as printed clearing the conflict so the failover works again.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess

import pytest

from lz_failover_monitor.actuator import Actuator
from lz_failover_monitor.aws import ec2_client
from lz_failover_monitor.config import validate_document
from lz_failover_monitor.metrics import Metrics
from harness.aws import delete_request_log
from harness.aws import get_request_log
from harness.paths import REPO_ROOT
from tests.support.fake_clock import FakeClock
from tests.support.monitor_doubles import RecordingLog
from tests.support.route_modules import ONPREM
from tests.support.route_modules import ONPREM6
from tests.support.route_modules import check_changes_nothing
from tests.support.route_modules import failover_args
from tests.support.route_modules import old_appliance_eni
from tests.support.route_modules import planned
from tests.support.route_modules import put_routes
from tests.support.route_modules import run_module
from tests.support.route_modules import static_targets
from tests.support.route_modules import writes_since_cleared

pytestmark = pytest.mark.moto


def route_states(ec2, rtb_id):
    """Each static route's destination -> (target, State), as DescribeRouteTables reports them."""
    table = ec2.describe_route_tables(RouteTableIds=[rtb_id])["RouteTables"][0]
    return {route.get("DestinationCidrBlock") or route.get("DestinationIpv6CidrBlock"): (route.get("NetworkInterfaceId"), route["State"])
            for route in table["Routes"] if route["Origin"] == "CreateRoute"}


def readme_clear_command_pattern():
    """The README's example of the command that clears a blackholed conflict, as a pattern real commands must match.

    The example's placeholders (``rtb-...``, the CIDR, ``...``) stand for any value; everything else
    (the command, the option names and their order) must be what the module prints.
    """
    with open(os.path.join(REPO_ROOT, "README.md"), encoding="utf-8") as readme:
        text = readme.read()
    examples = re.findall(r"`(aws ec2 delete-route [^`]+)`", text)
    assert len(examples) == 1, "the README has one example of the command: %r" % examples
    words = []
    for word in examples[0].split():
        if word in ("rtb-...", "...") or re.fullmatch(r"[0-9a-f.:]+/\d+", word):
            words.append(r"\S+")
        else:
            words.append(re.escape(word))
    return r"\s".join(words)


def former_appliance_blackholes(ec2, world):
    """The routes of a replaced, formerly tagged appliance whose interface was then deleted; return that interface's ID."""
    former = old_appliance_eni(ec2, world)
    put_routes(ec2, world.prod_rtb_id, former)
    ec2.delete_network_interface(NetworkInterfaceId=former)  # its tag went with it: the owner cannot be verified
    assert route_states(ec2, world.prod_rtb_id) == {ONPREM: (former, "blackhole"), ONPREM6: (former, "blackhole")}
    return former


def aws_cli(endpoint_url, command):
    """Run an ``aws ...`` command as printed, against the endpoint (the only addition: --endpoint-url)."""
    argv = shlex.split(command)
    argv[0] = shutil.which("aws")
    # No region but the command's own: a command without --region must fail here as it would for a user.
    env = {name: value for name, value in os.environ.items() if name not in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE")}
    env.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_CONFIG_FILE=os.devnull, AWS_SHARED_CREDENTIALS_FILE=os.devnull)
    return subprocess.run(argv + ["--endpoint-url", endpoint_url], env=env, capture_output=True, text=True, timeout=60, check=False)


def test_readme_appliance_interface_deleted_while_on_the_vpn(ec2, lz_world):
    """README: a route to the configured vpn_eni_id stays owned as a blackhole; failback deletes it and warns that
    the ENI is gone; a failover to the VPN is refused until the ENI exists again.

    Fails if ownership stops counting a blackholed route to vpn_eni_id as ours (Ownership.owns checking the state:
    the failback becomes a conflict), if check mode writes or plans other calls than the run, if the warning or the
    refusal goes (e.g. plan_routes no longer checking ``ownership.vpn_eni_exists``), or if the endpoint stops
    reporting a route to a deleted interface as blackhole (tools/endpoint/routes.py ``_static_route_state``).
    """
    rtb = lz_world.prod_rtb_id
    put_routes(ec2, rtb, lz_world.vpn_eni_id)  # on the VPN (the switch itself: test_route_failover_modules.py)
    ec2.delete_network_interface(NetworkInterfaceId=lz_world.vpn_eni_id)  # the appliance torn down while on the VPN
    assert route_states(ec2, rtb) == {ONPREM: (lz_world.vpn_eni_id, "blackhole"), ONPREM6: (lz_world.vpn_eni_id, "blackhole")}
    gone = "vpn_eni_id %s not found in %s" % (lz_world.vpn_eni_id, lz_world.region)

    delete_request_log(lz_world.endpoint_url)
    refused = run_module(lz_world, "lz_route_failover", failover_args(lz_world, "vpn"))
    assert refused.get("failed") is True and refused["changed"] is False, refused
    assert ("vpn_eni_id %s does not exist in %s: refusing to fail over to the VPN, whose routes would be blackholes; "
            "failback to DX (path dx) still removes the routes to it" % (lz_world.vpn_eni_id, lz_world.region)) in refused["msg"]
    assert writes_since_cleared(lz_world.endpoint_url)[0] == [], "the refused failover changed nothing"

    checked = check_changes_nothing(ec2, lz_world, failover_args(lz_world, "dx"))
    assert checked["changed"] is True and any(gone in warning for warning in checked["warnings"])
    assert [(a["action"], a["destination_cidr"]) for a in checked["actions"]] == [("delete", ONPREM), ("delete", ONPREM6)]
    assert checked["diff"]["before"][rtb][ONPREM] == "%s (static)" % lz_world.vpn_eni_id
    assert checked["diff"]["after"][rtb][ONPREM] == "%s (propagated)" % lz_world.vgw_id

    back = run_module(lz_world, "lz_route_failover", failover_args(lz_world, "dx"), diff=True)
    assert back["changed"] is True and any(gone in warning for warning in back["warnings"])
    assert planned(back["actions"]) == planned(checked["actions"]) and [a["outcome"] for a in back["actions"]] == ["done", "done"]
    assert back["route_tables"][0]["active_path"] == "dx" and back["diff"] == checked["diff"]
    assert route_states(ec2, rtb) == {}, "failback removed the blackholes"


@pytest.mark.skipif(shutil.which("aws") is None, reason="the AWS CLI (aws) is not installed: the README's command cannot be run")
def test_readme_blackholed_route_of_a_former_appliance_is_cleared_by_the_command_the_module_names(ec2, lz_world):
    """README: a blackholed route of another, formerly tagged appliance stays a conflict; the module's failure names
    the command that clears it, e.g. `aws ec2 delete-route --route-table-id rtb-... --destination-cidr-block ...`.

    Fails if the printed command is wrong for the AWS CLI (e.g. Conflict.clear_command printing
    --destination-cidr-block for an IPv6 destination, or no --region), if it stops matching the README's example,
    or if a blackholed foreign route is taken as ours (find_conflicts skipping blackholes: the failback deletes it).
    """
    rtb = lz_world.prod_rtb_id
    former_appliance_blackholes(ec2, lz_world)

    delete_request_log(lz_world.endpoint_url)
    refused = run_module(lz_world, "lz_route_failover", failover_args(lz_world, "dx"))
    assert refused.get("failed") is True and refused["changed"] is False, refused
    assert writes_since_cleared(lz_world.endpoint_url)[0] == [], "a conflict changes nothing"
    commands = {conflict["destination_cidr"]: conflict["clear_command"] for conflict in refused["conflicts"]}
    assert sorted(commands) == sorted([ONPREM, ONPREM6]) and all(command in refused["msg"] for command in commands.values())
    assert re.fullmatch(readme_clear_command_pattern(), commands[ONPREM]), "the README's example is the command the module prints"
    assert commands[ONPREM6] == "aws ec2 delete-route --route-table-id %s --destination-ipv6-cidr-block %s --region %s" % (rtb, ONPREM6, lz_world.region)

    delete_request_log(lz_world.endpoint_url)
    for command in commands.values():
        completed = aws_cli(lz_world.endpoint_url, command)
        assert completed.returncode == 0, (command, completed.stderr)
    requests = get_request_log(lz_world.endpoint_url)["requests"]
    assert [(record["action"], record["region"]) for record in requests] == [("DeleteRoute", lz_world.region)] * 2
    assert static_targets(ec2, rtb) == [], "the two commands cleared the two blackholes"

    again = run_module(lz_world, "lz_route_failover", failover_args(lz_world, "vpn"))
    assert [(a["action"], a["outcome"]) for a in again["actions"]] == [("create", "done")] * 2, "the failover works again"


@pytest.mark.skipif(shutil.which("aws") is None, reason="the AWS CLI (aws) is not installed: the logged command cannot be run")
def test_readme_monitor_logs_the_command_and_fails_over_once_it_is_run(ec2, lz_world):
    """README: the monitor's ``route_conflict`` log names the command that clears a blackholed conflict.  With DX
    down the monitor wants the VPN; until the command is run it changes nothing, attempt after attempt; once it
    is run, the next attempt fails over.

    Fails if the monitor's actuator applies a plan despite a conflict (a route call before the command), logs the
    conflict without its ``clear_command``, or does not converge once the conflict is gone.
    """
    former_appliance_blackholes(ec2, lz_world)
    config = validate_document({
        "region": lz_world.region, "endpoint_url": lz_world.endpoint_url, "route_table_ids": [lz_world.prod_rtb_id],
        "destination_cidrs": list(lz_world.onprem_cidrs), "vpn_eni_id": lz_world.vpn_eni_id, "probe_route_table_id": lz_world.probe_rtb_id,
        "probe": {"targets": ["198.19.0.10"]}, "reconcile_interval_s": 30, "api": {"max_attempts": 1, "retry_backoff_max_s": 10},
    })
    log = RecordingLog()
    actuator = Actuator(config, log, Metrics(), client_factory=ec2_client, clock=FakeClock().monotonic, rng=lambda: 1.0)
    delete_request_log(lz_world.endpoint_url)
    actuator.attempt(config, None)
    actuator.set_desired("vpn")
    for _attempt in range(2):
        actuator.attempt(config, "vpn")
    assert writes_since_cleared(lz_world.endpoint_url)[0] == [] and not actuator.book.converged, "a conflict changes nothing"
    logged = log.named("route_conflict")[-1]
    commands = [conflict["clear_command"] for conflict in logged["conflicts"]]
    assert len(commands) == 2 and all(command in logged["message"] for command in commands)

    for command in commands:
        completed = aws_cli(lz_world.endpoint_url, command)
        assert completed.returncode == 0, (command, completed.stderr)
    actuator.attempt(config, "vpn")
    assert actuator.book.converged and actuator.book.applied == "vpn"
    assert route_states(ec2, lz_world.prod_rtb_id) == {ONPREM: (lz_world.vpn_eni_id, "active"), ONPREM6: (lz_world.vpn_eni_id, "active")}
    assert writes_since_cleared(lz_world.endpoint_url)[0] == ["DeleteRoute", "DeleteRoute", "CreateRoute", "CreateRoute"]
