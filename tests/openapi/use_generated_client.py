"""Uses the Python client generated from the admin API's /openapi.json against a running admin
API, as a customer's script would: lists the companies, finds a user by email, and reads the
event log filtered by outcome (the enum generated from the document's valid values), by user
and page by page. Prints what it saw as one JSON object for tests/tests/openapi.rs to check.

Usage: use_generated_client.py BASE_URL COMPANY_ID EMAIL (the generated package on PYTHONPATH)
"""

import json
import sys
import uuid

from scimsync_admin_client import Client
from scimsync_admin_client.api.companies import list_companies
from scimsync_admin_client.api.events import list_events
from scimsync_admin_client.api.users import list_users
from scimsync_admin_client.models import Error, EventPage, ListEventsOutcome


def main() -> None:
    base_url, company, email = sys.argv[1], uuid.UUID(sys.argv[2]), sys.argv[3]
    client = Client(base_url=base_url, raise_on_unexpected_status=True)
    seen = {}

    companies = list_companies.sync(client=client)
    seen["companies"] = [c.name for c in companies.companies]

    users = list_users.sync(company, client=client, email=email).users
    seen["user_id"] = str(users[0].id)

    def events(**filters) -> EventPage:
        response = list_events.sync_detailed(company, client=client, **filters)
        assert response.status_code == 200, (response.status_code, response.content)
        return response.parsed

    seen["rejected"] = [
        e.event_id for e in events(outcome=ListEventsOutcome.REJECTED_EMAIL_DOMAIN).events
    ]
    by_user = events(user_id=users[0].id).events
    seen["by_user"] = [e.event_id for e in by_user]
    seen["by_user_ids"] = sorted({str(e.user_id) for e in by_user})

    pages, cursor = [], None
    while True:
        filters = {"outcome": ListEventsOutcome.CREATED, "limit": 2}
        if cursor is not None:
            filters["cursor"] = cursor
        page = events(**filters)
        pages.append([e.event_id for e in page.events])
        cursor = page.next_cursor
        if not isinstance(cursor, str):
            break
    seen["created_pages"] = pages

    # A refusal decodes as the documented error body.
    refused = list_events.sync_detailed(company, client=client, cursor="garbage")
    assert isinstance(refused.parsed, Error), refused.content
    seen["refused"] = [int(refused.status_code), refused.parsed.error]

    print(json.dumps(seen))


if __name__ == "__main__":
    main()
