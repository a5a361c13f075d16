# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A reload (SIGHUP) and ``--check-config --online`` check the configuration against AWS
(the project's local EC2 endpoint) before it is used; a configuration that cannot act is
refused and the running one kept."""

from __future__ import annotations

import io
import os
import threading

import pytest

from lz_failover_monitor import cli
from lz_failover_monitor.aws import ec2_client
from lz_failover_monitor.config import validate_document
from tests.support.coordination_table import create_coordination_table
from tests.support.coordination_table import dynamodb_client
from tests.support.monitor_configs import document
from tests.support.monitor_configs import write_config
from tests.support.monitor_doubles import UP
from tests.support.monitor_doubles import Harness

pytestmark = pytest.mark.moto

CHECK_TIMEOUT_S = 60  # a bound for a hung check, not a measurement: the check takes a few calls on loopback


def world_document(lz_world, **changes):
    """A configuration that can act in ``lz_world``: its production table, destinations and appliance."""
    base = document(
        region=lz_world.region, endpoint_url=lz_world.endpoint_url, route_table_ids=[lz_world.prod_rtb_id],
        destination_cidrs=list(lz_world.onprem_cidrs), vpn_eni_id=lz_world.vpn_eni_id, probe_route_table_id=lz_world.probe_rtb_id,
    )
    base.update(changes)
    return base


def running(tmp_path, lz_world, **changes):
    """A harness running the world's configuration, its file at tmp_path/config.yml."""
    config_path = write_config(tmp_path / "config.yml", world_document(lz_world, **changes))
    return Harness(config=validate_document(world_document(lz_world, **changes)), config_path=config_path).rounds(3, UP)


def reload_to(harness, tmp_path, lz_world, **changes):
    """Write the new file, reload, and finish the reload once its check against AWS ended."""
    write_config(tmp_path / "config.yml", world_document(lz_world, **changes))
    harness.monitor.reload()
    pending = harness.monitor.pending_reload
    if pending is not None:
        assert pending.wait(CHECK_TIMEOUT_S)
        harness.monitor.poll_reload()
    return harness


def rejected_problems(harness):
    [rejected] = harness.log.named("config_reload_rejected")
    return rejected["problems"]


def test_a_reload_to_an_unknown_route_table_keeps_the_running_configuration(tmp_path, lz_world):
    harness = running(tmp_path, lz_world)
    before = harness.monitor.config
    reload_to(harness, tmp_path, lz_world, route_table_ids=[lz_world.prod_rtb_id, "rtb-0000000000000000f"])
    assert harness.monitor.config is before and harness.monitor.actuator.configs == []
    assert rejected_problems(harness) == ["route table(s) rtb-0000000000000000f not found in us-east-1"]
    assert harness.sample("lz_failover_config_reloads_total", outcome="rejected") == 1
    assert harness.log.named("config_reloaded") == []


def test_a_reload_to_a_route_table_of_another_vpc_keeps_the_running_configuration(tmp_path, lz_world):
    harness = running(tmp_path, lz_world)
    before = harness.monitor.config
    reload_to(harness, tmp_path, lz_world, route_table_ids=[lz_world.other_rtb_id])
    assert harness.monitor.config is before
    [problem] = rejected_problems(harness)
    expected = "route table %s is in %s but vpn_eni_id %s is in %s" % (lz_world.other_rtb_id, lz_world.other_vpc_id, lz_world.vpn_eni_id, lz_world.vpc_id)
    assert problem.startswith(expected)


def test_a_reload_to_an_interface_of_another_vpc_keeps_the_running_configuration(tmp_path, lz_world):
    harness = running(tmp_path, lz_world)
    before = harness.monitor.config
    reload_to(harness, tmp_path, lz_world, vpn_eni_id=lz_world.other_eni_id)
    assert harness.monitor.config is before
    assert any(problem.startswith("route table %s is in %s but vpn_eni_id %s" % (lz_world.prod_rtb_id, lz_world.vpc_id, lz_world.other_eni_id))
               for problem in rejected_problems(harness))


def test_a_reload_aws_cannot_be_asked_about_keeps_the_running_configuration(tmp_path, lz_world):
    harness = running(tmp_path, lz_world)
    before = harness.monitor.config
    closed_port = "http://127.0.0.1:9"  # discard: nothing listens on loopback, so the connection is refused at once
    reload_to(harness, tmp_path, lz_world, endpoint_url=closed_port)
    assert harness.monitor.config is before
    [problem] = rejected_problems(harness)
    assert problem.startswith("the new configuration could not be checked against AWS: ")


def test_probe_rounds_go_on_while_the_check_against_aws_is_under_way(tmp_path, lz_world):
    gate = threading.Event()

    def gated_client(config, metrics):
        gate.wait(CHECK_TIMEOUT_S)
        return ec2_client(config, metrics)

    harness = running(tmp_path, lz_world)
    harness.monitor.ec2_client_factory = gated_client
    before = harness.monitor.config
    write_config(tmp_path / "config.yml", world_document(lz_world, route_table_ids=["rtb-0000000000000000f"]))
    harness.monitor.reload()
    harness.rounds(5, UP)
    harness.monitor.poll_reload()
    assert harness.monitor.config is before and not harness.monitor.pending_reload.done(), "nothing decided before AWS answers"
    gate.set()
    assert harness.monitor.pending_reload.wait(CHECK_TIMEOUT_S)
    harness.monitor.poll_reload()
    assert harness.monitor.config is before and harness.monitor.pending_reload is None
    assert rejected_problems(harness) == ["route table(s) rtb-0000000000000000f not found in us-east-1"]


def test_a_reload_that_only_changes_the_policy_needs_no_aws_call(tmp_path, lz_world):
    harness = running(tmp_path, lz_world, endpoint_url="http://127.0.0.1:9")
    reload_to(harness, tmp_path, lz_world, endpoint_url="http://127.0.0.1:9", policy={"failback_hold_s": 7, "dampening_max_hold_s": 60})
    assert harness.monitor.pending_reload is None and harness.monitor.config.policy.failback_hold_s == 7
    assert harness.log.named("config_reloaded")[0]["changed"] == ["policy"]


def test_dropping_a_table_that_holds_vpn_routes_warns_with_the_table_and_its_routes(tmp_path, lz_world, ec2):
    extra_rtb = ec2.create_route_table(VpcId=lz_world.vpc_id)["RouteTable"]["RouteTableId"]
    ec2.create_route(RouteTableId=extra_rtb, DestinationCidrBlock="198.19.0.0/24", NetworkInterfaceId=lz_world.vpn_eni_id)
    ec2.create_route(RouteTableId=extra_rtb, DestinationCidrBlock="203.0.113.0/24", NetworkInterfaceId=lz_world.vpn_eni_id)  # not a destination: not ours
    harness = running(tmp_path, lz_world, route_table_ids=[lz_world.prod_rtb_id, extra_rtb])
    reload_to(harness, tmp_path, lz_world)
    assert harness.monitor.config.route_table_ids == (lz_world.prod_rtb_id,)
    assert harness.sample("lz_failover_config_reloads_total", outcome="applied") == 1
    [warning] = harness.log.named("routes_left_unmanaged")
    assert (warning["route_table_id"], warning["routes"]) == (extra_rtb, ["198.19.0.0/24 -> %s" % lz_world.vpn_eni_id])


def test_dropping_a_table_without_vpn_routes_warns_of_nothing(tmp_path, lz_world, ec2):
    extra_rtb = ec2.create_route_table(VpcId=lz_world.vpc_id)["RouteTable"]["RouteTableId"]
    harness = running(tmp_path, lz_world, route_table_ids=[lz_world.prod_rtb_id, extra_rtb])
    reload_to(harness, tmp_path, lz_world)
    assert harness.monitor.config.route_table_ids == (lz_world.prod_rtb_id,)
    assert harness.log.named("routes_left_unmanaged") == []


# --------------------------------------------------------------------------- --check-config --online


def check(path, *options):
    out, err = io.StringIO(), io.StringIO()
    code = cli.check_config(path, out=out, err=err, online="--online" in options)
    return code, out.getvalue(), err.getvalue()


def test_check_config_online_accepts_a_configuration_that_can_act(tmp_path, lz_world):
    path = write_config(tmp_path / "config.yml", world_document(lz_world))
    code, out, _err = check(path, "--online")
    assert code == cli.EXIT_OK and "configuration is valid and AWS shows it can act" in out


def test_check_config_online_reports_what_aws_shows_and_fails(tmp_path, lz_world):
    path = write_config(tmp_path / "config.yml", world_document(lz_world, route_table_ids=["rtb-0000000000000000f"]))
    assert check(path)[0] == cli.EXIT_OK, "offline, nothing is wrong with it"
    code, _out, err = check(path, "--online")
    assert code == cli.EXIT_FAILED
    assert "route table(s) rtb-0000000000000000f not found in us-east-1" in err


def test_check_config_online_without_aws_exits_with_its_own_code(tmp_path, lz_world):
    path = write_config(tmp_path / "config.yml", world_document(lz_world, endpoint_url="http://127.0.0.1:9"))
    code, _out, err = check(path, "--online")
    assert code == cli.EXIT_UNCHECKED and "could not be checked against AWS" in err


def test_online_needs_check_config(capsys):
    with pytest.raises(SystemExit) as stopped:
        cli.main(["--online"])
    assert stopped.value.code == 2 and "--online needs --check-config" in capsys.readouterr().err


def test_the_command_line_passes_online_through(tmp_path, lz_world):
    path = write_config(tmp_path / "config.yml", world_document(lz_world, route_table_ids=["rtb-0000000000000000f"]))
    os.chmod(path, 0o600)
    assert cli.main(["--check-config", "--config", path]) == cli.EXIT_OK
    assert cli.main(["--check-config", "--online", "--config", path]) == cli.EXIT_FAILED


def test_the_environment_file_the_role_writes_is_read_back_exactly(tmp_path):
    path = tmp_path / "environment"
    path.write_text('# Managed by Ansible\n\nHTTPS_PROXY="http://user:p\\"w@proxy:3128"\nAWS_CA_BUNDLE="/etc/ssl/ca.pem"\n')
    assert cli.read_environment_file(str(path)) == {"HTTPS_PROXY": 'http://user:p"w@proxy:3128', "AWS_CA_BUNDLE": "/etc/ssl/ca.pem"}
    assert cli.read_environment_file(str(tmp_path / "missing")) == {}


def test_the_online_check_reaches_aws_with_the_environment_file(tmp_path, lz_world, monkeypatch):
    """The file's variables win over the shell's, before the client is made (the daemon's own environment)."""
    path = write_config(tmp_path / "config.yml", world_document(lz_world))
    environment = tmp_path / "environment"
    environment.write_text('AWS_SECRET_ACCESS_KEY="from-the-file"\n')
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "from-the-shell")
    assert cli.main(["--check-config", "--online", "--environment-file", str(environment), "--config", path]) == cli.EXIT_OK
    assert os.environ["AWS_SECRET_ACCESS_KEY"] == "from-the-file"


def test_environment_file_needs_online(capsys):
    with pytest.raises(SystemExit) as stopped:
        cli.main(["--check-config", "--environment-file", "/etc/x"])
    assert stopped.value.code == 2 and "--environment-file needs --check-config --online" in capsys.readouterr().err


def test_check_config_online_refuses_an_interface_that_does_not_exist(tmp_path, lz_world):
    # The actuator still fails back without it; a configuration naming it could never fail over.
    path = write_config(tmp_path / "config.yml", world_document(lz_world, vpn_eni_id="eni-0000000000000000f"))
    code, _out, err = check(path, "--online")
    assert code == cli.EXIT_FAILED
    assert "vpn_eni_id eni-0000000000000000f: no such network interface" in err


def test_check_config_online_refuses_a_coordination_table_that_does_not_exist(tmp_path, lz_world):
    path = write_config(tmp_path / "config.yml", world_document(lz_world, coordination={"table": "lz-missing-table"}))
    code, _out, err = check(path, "--online")
    assert code == cli.EXIT_FAILED
    assert "coordination.table lz-missing-table: the group lz-failover cannot be read (ResourceNotFoundException" in err


def test_check_config_online_accepts_a_coordination_table_that_exists(tmp_path, lz_world):
    table = create_coordination_table(dynamodb_client(lz_world.endpoint_url, lz_world.region), "lz-coordination-online")
    path = write_config(tmp_path / "config.yml", world_document(lz_world, coordination={"table": table}))
    code, out, _err = check(path, "--online")
    assert code == cli.EXIT_OK and "AWS shows it can act" in out
