"""The ports: what the core needs from the outside world, as typing.Protocols.

One module per kind of outside world; everything is re-exported here, so `from kanglu.application.ports
import X` keeps working."""

from kanglu.application.ports.security import (
    Clock,
    SecretBox,
    OAuthState,
    StateSigner,
    PasswordHasher,
)
from kanglu.application.ports.erp import (
    OAuthClient,
    TokenGrant,
    PendingGrant,
    TokenJournal,
    NoTokenJournal,
    OAuthProvider,
    TokenSource,
    OrderPage,
    ErpGateway,
    TrackingService,
)
from kanglu.application.ports.repositories import (
    MerchantRepository,
    ConnectionRepository,
    StatusMappingRepository,
    CustomerRepository,
    OrderRepository,
    ImportFailureRepository,
    ShippingFamilyRepository,
    CarrierMappingRepository,
    ConnectionEventRepository,
    NotificationRepository,
    OutboxRepository,
    TokenRevocationRepository,
    JobRepository,
)
from kanglu.application.ports.unit_of_work import (
    UnitOfWork,
    UnitOfWorkFactory,
)
from kanglu.application.ports.poll_progress import PollProgressStore, StoredPage
from kanglu.application.ports.job_runner import PollJobLink
from kanglu.application.ports.alerts import (
    MailMessage,
    Mailer,
    WebhookClient,
)

__all__ = [
    "CarrierMappingRepository",
    "Clock",
    "ConnectionEventRepository",
    "ConnectionRepository",
    "CustomerRepository",
    "ErpGateway",
    "ImportFailureRepository",
    "JobRepository",
    "MailMessage",
    "Mailer",
    "MerchantRepository",
    "NoTokenJournal",
    "NotificationRepository",
    "OAuthClient",
    "OAuthProvider",
    "OAuthState",
    "OrderPage",
    "OrderRepository",
    "OutboxRepository",
    "PasswordHasher",
    "PollJobLink",
    "PollProgressStore",
    "PendingGrant",
    "SecretBox",
    "ShippingFamilyRepository",
    "StateSigner",
    "StatusMappingRepository",
    "StoredPage",
    "TokenGrant",
    "TokenJournal",
    "TokenRevocationRepository",
    "TokenSource",
    "TrackingService",
    "UnitOfWork",
    "UnitOfWorkFactory",
    "WebhookClient",
]
