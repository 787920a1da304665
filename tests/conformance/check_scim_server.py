"""Runs scim2-tester's `check_server` against a SCIM tenant URL and prints one JSON object per
check on standard output: status, title, resource type, reason, tags and the attribute checked. Deciding which results
fail is left to the caller (tests/tests/scim_conformance.rs), which knows the exceptions.

Usage: check_scim_server.py <tenant URL>, with the bearer token in SCIM_TOKEN (not an argument,
so it does not show in process listings).
"""

import json
import os
import sys

from httpx2 import Client
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_tester import check_server


def _shown(value, limit=2000):
    """A result's debugging data, as text short enough for a test's failure message."""
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    url = sys.argv[1].rstrip("/")
    token = os.environ["SCIM_TOKEN"]
    http = Client(
        base_url=url,
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    client = SyncSCIMClient(http)
    for result in check_server(client):
        print(
            json.dumps(
                {
                    "status": result.status.name,
                    "title": result.title,
                    "resource_type": result.resource_type,
                    "reason": result.reason,
                    "tags": sorted(result.tags),
                    # The attribute a per-attribute check (PATCH add/replace/remove) was about.
                    "urn": result.data.get("urn") if isinstance(result.data, dict) else None,
                    "data": None if result.data is None else _shown(result.data),
                }
            ),
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
