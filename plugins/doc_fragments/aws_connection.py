# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # The connection options every AWS module of this collection takes from amazon.aws's
    # AnsibleAWSModule. They are documented here, not through amazon.aws's fragments: Galaxy
    # renders the documentation with no other collection installed, and a single fragment it
    # cannot find there leaves every module of this collection without documentation.
    DOCUMENTATION = r"""
options:
  region:
    description:
      - The AWS region of the calls, for example C(us-east-1).
      - When not given, the E(AWS_REGION) or E(AWS_DEFAULT_REGION) environment variable, then the profile's region.
    type: str
    aliases: [aws_region]
  access_key:
    description:
      - The access key ID of the credentials.
      - When not given, E(AWS_ACCESS_KEY_ID) or E(AWS_ACCESS_KEY), then the usual credential chain
        (profile, instance role).
    type: str
    aliases: [aws_access_key_id, aws_access_key]
  secret_key:
    description:
      - The secret access key that goes with O(access_key).
      - When not given, E(AWS_SECRET_ACCESS_KEY) or E(AWS_SECRET_KEY).
    type: str
    aliases: [aws_secret_access_key, aws_secret_key]
  session_token:
    description:
      - The session token of temporary credentials.
      - When not given, E(AWS_SESSION_TOKEN).
    type: str
    aliases: [aws_session_token]
  profile:
    description:
      - A named profile of the AWS configuration files to take the credentials and region from.
      - When not given, E(AWS_PROFILE) or E(AWS_DEFAULT_PROFILE).
      - Not together with O(access_key), O(secret_key) or O(session_token).
    type: str
    aliases: [aws_profile]
  endpoint_url:
    description:
      - Send the calls to this URL instead of the service's public endpoint (a VPC endpoint, or a local
        test endpoint).
      - When not given, E(AWS_URL).
    type: str
    aliases: [aws_endpoint_url]
  validate_certs:
    description:
      - Whether to verify the endpoint's TLS certificate.
    type: bool
    default: true
  aws_ca_bundle:
    description:
      - A CA bundle file to verify the endpoint's certificate with.
      - When not given, E(AWS_CA_BUNDLE).
    type: path
  aws_config:
    description:
      - Extra botocore client settings, as the keyword arguments of C(botocore.config.Config).
    type: dict
  debug_botocore_endpoint_logs:
    description:
      - Log the AWS API calls the module makes and return them in RV(ignore:resource_actions).
      - When not given, E(ANSIBLE_DEBUG_BOTOCORE_LOGS).
    type: bool
    default: false
requirements:
  - boto3 and botocore on the host that runs the module (the controller); the collection's
    C(requirements.txt) has the tested versions.
"""
