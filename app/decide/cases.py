"""The case as the core sees it."""

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Customer:
    id: str
    plan: str
    country: str


@dataclass(frozen=True)
class Case:
    """A support case as filed; optional fields are None when the customer did not give them."""

    subject: str
    description: str
    customer: Customer
    reported_at: datetime
    environment: str | None = None
    product_area: str | None = None
    declared_severity: int | None = None
    language: str | None = None
    channel: str | None = None
    tier: str = "L1"
    case_id: str | None = None

    @property
    def text(self) -> str:
        return f"{self.subject}\n{self.description}"
