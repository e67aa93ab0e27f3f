"""Premium features (insights, uptime, content monitoring): who may read them.

api.md: the three endpoints need an active subscription (403 otherwise). With one,
uptime answers 404 while the site has no monitor and content answers 403 with
`content_monitoring_enabled: false` while monitoring is off; the features' answers
come from their read models (`reads.insights`, `reads.uptime`, `reads.content`).
"""

from typing import Any, Protocol
from uuid import UUID

from domain.errors import DomainError

SUBSCRIPTION_REQUIRED = "This endpoint requires an active subscription"
UPTIME_NOT_ENABLED = "Uptime monitoring is not enabled for this site"
CONTENT_NOT_ENABLED = "Content monitoring is not enabled for this site"


class SubscriptionRequired(DomainError):
    """The account is on the free plan; the feature needs a subscription."""


class FeatureNotEnabled(DomainError):
    """The feature is off for this site."""


class Accounts(Protocol):
    def get_account(self, account_id: UUID) -> Any: ...


class Premium:
    def __init__(self, accounts: Accounts) -> None:
        self.accounts = accounts

    def require_subscription(self, owner_id: UUID) -> None:
        if not self.accounts.get_account(owner_id).is_subscribed:
            raise SubscriptionRequired(SUBSCRIPTION_REQUIRED)
