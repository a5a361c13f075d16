# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The local EC2 endpoint: moto 5, corrected where DX/VPN route failover depends on EC2.

The project's tests, and the local lab as its "region" API endpoint, talk to
moto.  moto differs from EC2 on exactly the calls this collection makes, so
this package patches moto's EC2 (and SSM) backend and response classes to
behave like EC2 for them, and serves the result with a control API under
``/_fidelity/``.  Started as a process with ``python -m tools.endpoint --host
127.0.0.1 --port 5000`` (from the collection root), or in-process with
``server.serve()`` (or ``behaviours.install()`` then moto's ``mock_aws``).

One file per emulated behaviour (each module's docstring says what moto does,
what the endpoint changes, and what still differs from EC2):

* ``routes.py``: CreateRoute duplicates, ReplaceRoute / DeleteRoute of static
  routes only, IPv4 only in ``DestinationCidrBlock``, same-network targets, the
  ``blackhole`` state (deleted interface, terminated instance, detached VGW),
  routes to a prefix list;
* ``propagation.py``: Enable/DisableVgwRoutePropagation, propagated routes
  from a VGW's learned prefixes, the ``route.*`` filters; control API
  ``vgw/<vgw_id>/prefixes``;
* ``zones.py``: Local Zones in DescribeAvailabilityZones,
  ModifyAvailabilityZoneGroup, subnets, instance type offerings and
  RunInstances placement;
* ``images.py``: the public Debian AMI parameters and their images;
* ``security_group_rules.py``: rules for a protocol without ports (ESP);
* ``elastic_ip_tags.py``: DescribeTags' resource type ``elastic-ip``;
* ``instance_termination.py``: TerminateInstances detaches the interfaces it keeps;
* ``reset.py``: moto's reset also clears the faults, the throttling counters,
  Direct Connect and the request log;
* ``throttling.py``: EC2's request throttling (token buckets per account,
  Region and action; ``RequestLimitExceeded``) and DescribeRouteTables that
  lags route changes, off unless ``--throttle``; control API ``throttling``;
* ``faults.py``: fault injection, EC2 requests (or, named, another service's,
  or one caller's) answered with errors or slowly; control API ``faults``;
* ``request_log.py``: every API request with its caller (access key), times
  and status; control API ``requests``; ``writers.py`` reads it (did two
  callers change routes at once?);
* ``change_notification.py``: the long poll ``route-tables/version`` that a
  route-table mirror (the lab's VPC router) waits on;
* ``direct_connect.py``: Direct Connect virtual interfaces and BGP failover
  tests; control API ``directconnect/...``;

and the parts they share: ``server.py`` (the HTTP server, the request dispatch,
the control API's routing and the command line), ``behaviours.py`` (the list of
behaviours and ``install()``), ``patching.py`` (replacing a moto method,
reaching the one it replaced), ``protocol.py`` (control API answers, the SigV4
credential scope, EC2's query-protocol requests and error body).

Adding a behaviour
------------------
A new emulated EC2 behaviour is one new module here with an ``install()`` that
patches moto through ``patching.patch`` (a replacement that extends moto calls
``patching.original``), registered by adding it to ``BEHAVIOURS`` in
``behaviours.py``: that list is the one registration point.  A behaviour with
its own control resource also adds it to ``CONTROL_RESOURCES`` in ``server.py``.
Its tests go to ``tests/unit/tools/endpoint/test_<module>.py``.

Shared facts
------------
* Error codes and HTTP statuses are EC2's; error messages are close to EC2's
  but not guaranteed word for word.
* Routes are not longest-prefix-matched or evaluated for traffic; nothing here
  forwards packets.
* Already right in moto (covered by tests, not changed): ``Origin`` of static
  (``CreateRoute``) and local (``CreateRouteTable``) routes,
  ``SourceDestCheck`` through ModifyNetworkInterfaceAttribute and
  DescribeNetworkInterfaces, the ``InvalidParameterValue`` of ReplaceRoute for
  a destination without a static route, error responses with HTTP 400.
* The default moto account (``123456789012``) is used.  State kept on moto's
  model objects goes with moto's own ``POST /moto-api/reset`` (or ``mock_aws``
  ending); reset.py clears the rest.
"""
