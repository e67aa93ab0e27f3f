"""Links in report mails: the dashboard, and a signed one-click unsubscribe link.

The unsubscribe token names the site and the address (itsdangerous, signed with the
dashboard's secret key, no expiry: a report from last year must still unsubscribe).
It opens a page with a button (GET changes nothing: mail scanners follow links), and
takes the RFC 8058 one-click POST (`List-Unsubscribe=One-Click`) that mail clients send.
"""

from uuid import UUID

from itsdangerous import BadSignature, URLSafeSerializer

PURPOSE = "tinylytics.report-unsubscribe"
# Without TINYLYTICS_BASE_URL a mail carries this base (no request to take the host from).
DEFAULT_BASE_URL = "http://localhost:5000"


class SignedReportLinks:
    def __init__(self, secret: str, base_url: str | None) -> None:
        self.serializer = URLSafeSerializer(secret, salt=PURPOSE)
        self.base_url = (base_url or DEFAULT_BASE_URL).rstrip("/")

    def dashboard(self, site_uid: str) -> str:
        return f"{self.base_url}/sites/{site_uid}"

    def content(self, site_uid: str) -> str:
        """The site's Content tab (content monitoring alerts link there)."""
        return f"{self.base_url}/sites/{site_uid}/content"

    def token(self, site_id: UUID, address: str) -> str:
        return str(self.serializer.dumps({"s": site_id.hex, "a": address.lower()}))

    def unsubscribe(self, site_id: UUID, address: str) -> str:
        return f"{self.base_url}/reports/unsubscribe/{self.token(site_id, address)}"

    def read(self, token: str) -> tuple[UUID, str] | None:
        """The site and address a token names; None when it is not one of ours."""
        try:
            data = self.serializer.loads(token)
            return UUID(hex=str(data["s"])), str(data["a"])
        except (BadSignature, KeyError, TypeError, ValueError):
            return None
