"""One retry policy for every HTTP client chainwarden has.

The clients differ in auth, TLS fallback and streaming, but agree on what a
transient failure is: a connection error or timeout, or a 429/5xx answer from
a busy server (or a proxy in front of it). Those are retried a few times with
exponential backoff; a ``Retry-After`` the server sends is honoured (never
sooner than it asks) but capped, so a hostile or confused server cannot park
a scan for hours. Failures that would only repeat — a TLS certificate the
system does not trust, a handshake with a server that does not speak TLS — are
never retried.

The helpers only decide *whether* and *when* to try again; turning the final
failure into a one-line :class:`chainwarden.errors.Error` is the caller's job,
since only the caller knows what it was fetching.
"""

from __future__ import annotations

import datetime
import email.utils
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, TypeVar

import httpx

#: Answers worth another try: rate limited, or the server (or a proxy) is failing or busy.
TRANSIENT_STATUSES: Final = frozenset({429, 500, 502, 503, 504})

_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how patiently to retry transient failures.

    ``attempts`` counts the first try: 3 means up to two retries. The n-th
    retry waits ``base_delay * 2**(n-1)`` seconds, or what ``Retry-After``
    asks when that is longer, and never more than ``max_delay``.
    """

    attempts: int = 3
    base_delay: float = 0.25
    max_delay: float = 5.0
    retry_statuses: frozenset[int] = TRANSIENT_STATUSES

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError(f"RetryPolicy.attempts must be at least 1, got {self.attempts}")
        if self.base_delay < 0 or self.max_delay < 0:
            raise ValueError("RetryPolicy delays must not be negative")

    def delay(self, retry: int, response: httpx.Response | None = None) -> float:
        """Seconds to wait before retry number ``retry`` (1 for the first retry)."""
        wait = self.base_delay * 2.0 ** (retry - 1)
        if response is not None:
            asked = retry_after(response)
            if asked is not None:
                wait = max(wait, asked)
        return min(wait, self.max_delay)


def retry_after(response: httpx.Response) -> float | None:
    """Seconds the server's ``Retry-After`` asks for (RFC 9110 §10.2.3), or None.

    Both forms are understood: delay-seconds and an HTTP-date (a date in the past
    means "now"). An unparsable value counts as absent.
    """
    value = response.headers.get("Retry-After", "").strip()
    if not value:
        return None
    if value.isascii() and value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # RFC 9110 dates are GMT; "-0000" parses as naive
        when = when.replace(tzinfo=datetime.UTC)
    return max(0.0, (when - datetime.datetime.now(datetime.UTC)).total_seconds())


def caused_by(exc: BaseException, kind: type[BaseException]) -> bool:
    """Whether ``kind`` is in the chain httpx wraps around socket and ssl errors."""
    seen: BaseException | None = exc
    for _ in range(8):  # httpx → httpcore → ssl is three deep; bound the walk anyway
        if seen is None:
            return False
        if isinstance(seen, kind):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def is_tls_error(exc: BaseException) -> bool:
    """Whether ``exc`` is (or wraps) a TLS failure: bad certificate, failed handshake."""
    return caused_by(exc, ssl.SSLError)


def is_transient(exc: httpx.TransportError) -> bool:
    """Whether another try could succeed: connection errors and timeouts, but not TLS failures
    nor a URL scheme the client does not speak (``ftp://`` in a packument)."""
    return not isinstance(exc, httpx.UnsupportedProtocol) and not is_tls_error(exc)


def send_with_retries(
    send: Callable[[], httpx.Response],
    policy: RetryPolicy,
    *,
    sleep: Callable[[float], None] = time.sleep,
) -> httpx.Response:
    """Call ``send`` until it gives a non-transient answer or ``policy.attempts`` run out.

    A response whose status is in ``policy.retry_statuses`` is closed and sent
    again; on the last attempt it is returned as it is, so the caller can report
    the status. A transient :class:`httpx.TransportError` is retried and, on the
    last attempt, re-raised; a non-transient one (see :func:`is_transient`) is
    re-raised at once. Any other exception propagates untouched.
    """
    for attempt in range(1, policy.attempts + 1):
        last_attempt = attempt == policy.attempts
        try:
            response = send()
        except httpx.TransportError as exc:
            if last_attempt or not is_transient(exc):
                raise
            sleep(policy.delay(attempt))
            continue
        if last_attempt or response.status_code not in policy.retry_statuses:
            return response
        wait = policy.delay(attempt, response)
        response.close()
        sleep(wait)
    raise AssertionError("unreachable")  # pragma: no cover - the last attempt returns or raises


def retry_transport_errors(
    operation: Callable[[], _T],
    policy: RetryPolicy,
    *,
    sleep: Callable[[float], None] = time.sleep,
) -> _T:
    """Run ``operation`` again when it fails with a transient transport error.

    For work that spans a whole exchange, such as streaming a response body to
    disk: a connection dropped half-way is worth starting over. The last error,
    or a non-transient one, is re-raised.
    """
    for attempt in range(1, policy.attempts + 1):
        try:
            return operation()
        except httpx.TransportError as exc:
            if attempt == policy.attempts or not is_transient(exc):
                raise
            sleep(policy.delay(attempt))
    raise AssertionError("unreachable")  # pragma: no cover - the last attempt returns or raises


def read_with_retries(
    send: Callable[[], httpx.Response],
    read: Callable[[httpx.Response], _T],
    policy: RetryPolicy,
    *,
    sleep: Callable[[float], None] = time.sleep,
) -> _T:
    """Send a request and ``read`` its (streamed) answer, starting the exchange over on a transient failure.

    One budget of ``policy.attempts`` covers both halves: a connection error or a
    status in ``policy.retry_statuses`` before the answer (as :func:`send_with_retries`
    does), and a connection dropped while ``read`` consumes the body (as
    :func:`retry_transport_errors` does), so a dead host is tried ``attempts``
    times, not ``attempts`` squared. On the last attempt a transient status is
    handed to ``read``, which reports it; the last transport error, or a
    non-transient one, is re-raised. The response is closed after ``read``.
    """
    for attempt in range(1, policy.attempts + 1):
        last_attempt = attempt == policy.attempts
        try:
            response = send()
            try:
                if last_attempt or response.status_code not in policy.retry_statuses:
                    return read(response)
                wait = policy.delay(attempt, response)
            finally:
                response.close()
        except httpx.TransportError as exc:
            if last_attempt or not is_transient(exc):
                raise
            wait = policy.delay(attempt)
        sleep(wait)
    raise AssertionError("unreachable")  # pragma: no cover - the last attempt returns or raises
