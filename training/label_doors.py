"""The labelling app's doors: which Host and Origin may talk to it, and the security
headers every answer carries (after Django's ``ALLOWED_HOSTS`` and security
middleware, and OWASP's rules for sessions)."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from urllib.parse import urlsplit

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
# No inline script or style: a stored or reflected injection cannot run.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS = {
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
    "cross-origin-opener-policy": "same-origin",
}
STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def is_loopback(host: str) -> bool:
    """True for an address or name that only this machine can reach."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def host_name(value: str) -> str:
    """The name in a Host header or an origin's netloc, without port or brackets."""
    value = value.strip().lower()
    if value.startswith("["):  # [::1]:8765
        return value[1 : value.find("]")] if "]" in value else value
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


class Doors:
    """Decides whether a request may come in, and what headers the answer carries."""

    def __init__(self, allowed_hosts: Iterable[str] = ()) -> None:
        self.allowed = {host_name(h) for h in (*LOOPBACK_NAMES, *allowed_hosts)}

    def host_problem(self, host_header: str | None) -> str | None:
        """Why a Host header is refused (DNS rebinding, a wrong name), or None."""
        name = host_name(host_header or "")
        if name in self.allowed:
            return None
        return (
            f"Host {host_header!r} is not one this app answers to; its admin can start it "
            f"with --allowed-host {name or 'NAME'}."
        )

    def origin_problem(self, method: str, headers) -> str | None:
        """Why a state-changing request from another site is refused, or None.

        Browsers send Sec-Fetch-Site with every request: only ``same-origin`` (and
        ``none``, a person's own navigation) may change state. Without it, Origin
        decides (with Referrer-Policy ``no-referrer`` a browser sends ``Origin: null``
        even for its own forms, so ``null`` counts only beside Sec-Fetch-Site).
        Scripts may send neither and still need the session's CSRF token.
        """
        if method not in STATE_CHANGING:
            return None
        site = headers.get("sec-fetch-site")
        if site is not None:
            return (
                None
                if site in ("same-origin", "none")
                else (f"A page on another site (Sec-Fetch-Site: {site}) may not send this request.")
            )
        origin = headers.get("origin")
        if origin is None:
            return None
        if origin == "null" or host_name(urlsplit(origin).netloc) not in self.allowed:
            return f"Origin {origin!r} may not send this request."
        return None
