"""The client's options, checked once when a client is built.

Every option is validated here, before anything is sent, with a :class:`UsageError`
naming it; the client exposes the result as read-only properties. Nothing here shows a
secret: not the key, not credentials written into a URL.
"""

from __future__ import annotations

import os
import ssl as _ssl
import sys
from typing import TYPE_CHECKING, Any

import attrs

from ._checks import finite_number
from ._config import (
    DEFAULT_SERVER_URL,
    ENV_SECRET_KEY,
    ENV_SERVER_URL,
    Timeout,
    coerce_timeout,
)
from ._errors import UsageError
from ._process_bound import NotPicklable
from ._retry import NO_RETRIES, RetryConfig

if TYPE_CHECKING:
    from urllib.parse import SplitResult

__all__ = ["ClientOptions", "SecretKey"]


class SecretKey(NotPicklable):
    """The secret key while a client is being built: its repr hides it, so a traceback
    with locals or an error tracker shows nothing of it. :meth:`checked` validates it
    without ever binding it to a local of a frame that raises."""

    __slots__ = ("_value",)

    def __init__(self, value: object) -> None:
        self._value = value

    @classmethod
    def wrap(cls, secret_key: object) -> SecretKey:
        """The key given, else ``AUTUMN_SECRET_KEY``; already a ``SecretKey`` is kept."""
        if isinstance(secret_key, SecretKey):
            return secret_key
        return cls(secret_key if secret_key is not None else os.environ.get(ENV_SECRET_KEY))

    def __repr__(self) -> str:
        return "SecretKey(<hidden>)"

    def checked(self) -> str:
        """The key, or a UsageError that never repeats it."""
        if self._value is None:
            raise UsageError(
                f"no secret key: pass secret_key=... or set {ENV_SECRET_KEY}", field="secret_key"
            )
        if not isinstance(self._value, str) or not self._value.strip():
            raise UsageError("secret_key must be a non-empty string", field="secret_key")
        if not all(ch.isprintable() and not ch.isspace() for ch in self._value):
            raise UsageError(
                "secret_key contains whitespace or control characters", field="secret_key"
            )
        return self._value


@attrs.frozen(kw_only=True)
class ClientOptions(NotPicklable):
    """Validated client options (everything but the key); build with :meth:`build`."""

    server_url: str
    x_api_version: str
    timeout: Timeout
    retry_config: RetryConfig
    fail_open: bool
    max_connections: int
    keepalive_timeout: float
    ssl: _ssl.SSLContext | bool
    #: The proxy actually used (given, or read from the environment), credentials kept.
    proxy: str | None = attrs.field(repr=False)
    trust_env: bool
    allow_insecure_http: bool

    @classmethod
    def build(
        cls,
        *,
        server_url: object,
        x_api_version: object,
        timeout: object,
        retry_config: object,
        fail_open: object,
        max_connections: object,
        keepalive_timeout: object,
        ssl: object,
        session: object,
        transport: object,
        proxy: object,
        trust_env: object,
        allow_insecure_http: object,
    ) -> ClientOptions:
        """Check every option; a :class:`UsageError` naming the first bad one."""
        for name, flag in (
            ("fail_open", fail_open),
            ("trust_env", trust_env),
            ("allow_insecure_http", allow_insecure_http),
        ):
            if not isinstance(flag, bool):
                raise UsageError(f"{name} must be True or False, got {_kind(flag)}", field=name)
        url = _server_url(server_url, allow_insecure_http=bool(allow_insecure_http))
        if not isinstance(x_api_version, str) or not x_api_version.strip():
            raise UsageError("x_api_version must be a non-empty string", field="x_api_version")
        if any(not ch.isprintable() for ch in x_api_version):
            # CR/LF would split the header (aiohttp refuses with a raw ValueError).
            raise UsageError(
                "x_api_version contains control characters (CR, LF ...)", field="x_api_version"
            )
        if retry_config is not None and not isinstance(retry_config, RetryConfig):
            raise UsageError(
                f"retry_config must be a RetryConfig or None, got {_kind(retry_config)}",
                field="retry_config",
            )
        if isinstance(max_connections, bool) or not isinstance(max_connections, int):
            raise UsageError(
                f"max_connections must be an int, got {_kind(max_connections)}",
                field="max_connections",
            )
        if max_connections < 1:
            raise UsageError("max_connections must be at least 1", field="max_connections")
        keepalive = finite_number(keepalive_timeout, "keepalive_timeout")
        if keepalive <= 0:
            raise UsageError(
                "keepalive_timeout must be a positive number of seconds",
                field="keepalive_timeout",
            )
        if not isinstance(ssl, (bool, _ssl.SSLContext)):
            raise UsageError(
                f"ssl must be True, False or an ssl.SSLContext, got {_kind(ssl)}", field="ssl"
            )
        if session is not None and not _is_aiohttp_session(session):
            raise UsageError(
                f"session must be an aiohttp.ClientSession, got {_kind(session)}", field="session"
            )
        if transport is not None and not _is_transport(transport):
            raise UsageError(
                f"transport must have send() and aclose() (an AsyncTransport), got "
                f"{_kind(transport)}",
                field="transport",
            )
        if session is not None and trust_env:
            raise UsageError(
                "trust_env applies to the client's own connections; with session=..., set "
                "trust_env on your session",
                field="trust_env",
            )
        if proxy is not None:
            _check_proxy(proxy)
        elif trust_env:
            proxy = _proxy_from_environment(url)
        return cls(
            server_url=url,
            x_api_version=x_api_version,
            timeout=coerce_timeout(timeout),  # type: ignore[arg-type]
            retry_config=retry_config if retry_config is not None else NO_RETRIES,
            fail_open=fail_open,  # type: ignore[arg-type]
            max_connections=max_connections,
            keepalive_timeout=float(keepalive),
            ssl=ssl,
            proxy=proxy,  # type: ignore[arg-type]
            trust_env=trust_env,  # type: ignore[arg-type]
            allow_insecure_http=allow_insecure_http,  # type: ignore[arg-type]
        )


def _kind(value: object) -> str:
    return type(value).__name__


def _is_aiohttp_session(value: object) -> bool:
    # aiohttp is imported by the first request, not by the client; a caller who passes
    # a session has imported it already.
    aiohttp = sys.modules.get("aiohttp")
    return aiohttp is not None and isinstance(value, aiohttp.ClientSession)


def _is_transport(value: object) -> bool:
    return callable(getattr(value, "send", None)) and callable(getattr(value, "aclose", None))


def _parse_http_url(value: str, field: str) -> SplitResult:
    """``value`` split, or a UsageError that never repeats credentials written into it."""
    # Imported when a client is built, not with the package (a few ms of import time).
    from urllib.parse import urlsplit  # noqa: PLC0415

    if any(ch.isspace() or not ch.isprintable() for ch in value):
        raise UsageError(f"{field} contains whitespace or control characters", field=field)
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 (parses the port; raises ValueError when invalid)
    except ValueError:
        raise UsageError(f"{field} is not a valid URL", field=field) from None
    if parts.scheme not in ("http", "https"):
        shown = f"{parts.scheme}://" if parts.scheme else "no scheme"
        raise UsageError(f"{field} must start with http:// or https://, got {shown}", field=field)
    if not parts.hostname:
        raise UsageError(f"{field} has no host name", field=field)
    return parts


def _server_url(value: object, *, allow_insecure_http: bool) -> str:
    if value is None:
        value = os.environ.get(ENV_SERVER_URL) or DEFAULT_SERVER_URL
    if not isinstance(value, str) or not value:
        raise UsageError(
            f"server_url must be a non-empty string, got {_kind(value)}", field="server_url"
        )
    parts = _parse_http_url(value, "server_url")
    if "@" in parts.netloc:
        raise UsageError(
            "server_url must not contain credentials (user:password@): Autumn is "
            "authenticated by secret_key alone",
            field="server_url",
        )
    if "?" in value or "#" in value:
        raise UsageError(
            "server_url must not have a query or a fragment (a ? or #): paths are appended to it",
            field="server_url",
        )
    if parts.scheme == "http" and not allow_insecure_http and not _is_loopback(parts.hostname):
        raise UsageError(
            f"server_url {value} is plain http:// to another machine: the secret key would "
            "travel in clear text. Use https://, or pass allow_insecure_http=True if the "
            "network is trusted",
            field="server_url",
        )
    return value.rstrip("/")


def _is_loopback(host: str | None) -> bool:
    if host is None:
        return False
    if host == "localhost" or host.endswith(".localhost"):
        return True
    import ipaddress  # noqa: PLC0415 (only for plain http://, off the import path)

    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_proxy(proxy: object) -> None:
    if not isinstance(proxy, str) or not proxy:
        raise UsageError(f"proxy must be a URL string or None, got {_kind(proxy)}", field="proxy")
    parts = _parse_http_url(proxy, "proxy")
    if parts.query or parts.fragment or parts.path not in ("", "/"):
        raise UsageError("proxy must be scheme://[user:password@]host:port only", field="proxy")


def _proxy_from_environment(server_url: str) -> str | None:
    """The proxy the environment sets for ``server_url`` (``HTTPS_PROXY``, ``HTTP_PROXY``,
    ``ALL_PROXY``, ``NO_PROXY``, either case); ``~/.netrc`` is never read."""
    import urllib.request  # noqa: PLC0415 (~10 ms, and only with trust_env=True)

    proxies: dict[str, Any] = urllib.request.getproxies_environment()
    parts = urllib.parse.urlsplit(server_url)
    host = parts.hostname or ""
    if proxies.get("no") and urllib.request.proxy_bypass(host):
        return None
    chosen = proxies.get(parts.scheme) or proxies.get("all")
    if not chosen:
        return None
    try:
        _check_proxy(chosen)
    except UsageError:
        raise UsageError(
            f"the {parts.scheme.upper()}_PROXY environment variable is not a usable proxy "
            "URL (trust_env=True reads it)",
            field="trust_env",
        ) from None
    return str(chosen)
