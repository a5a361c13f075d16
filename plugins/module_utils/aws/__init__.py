# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The AWS layer of the core: every AWS API call the modules and the monitor make.

* ``calls``: the one call / pagination / error wrapper, for every service (EC2,
  Direct Connect, CloudWatch, SNS), and the retry settings of the route clients;
  a failure is one ``errors.AwsApiError`` naming the service and the operation.
* ``ec2``: route tables read and validated into a snapshot, plans applied.
* ``route_watch``: a timestamped record of each route table's path, read at a fixed
  cadence (lz_route_watch);
* ``directconnect``: the Direct Connect BGP failover test, its state and waiting for BGP.
* ``modules``: what the collection's AWS modules share: their clients, the managed-route
  options and reading them, and how they report a failure (given the module object, so
  this package stays free of Ansible imports).
"""
