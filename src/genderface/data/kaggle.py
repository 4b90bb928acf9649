"""Kaggle datasets through kagglehub, with a bounded wait: a server that accepts the connection
and never answers fails the download in GENDERFACE_KAGGLE_TIMEOUT seconds (60 by default)."""

import logging
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from genderface.errors import GenderfaceError
from genderface.fsutil import disk_full

log = logging.getLogger("download")

_KAGGLE_HANDLE = re.compile(r"^[\w.-]+/[\w.-]+(/versions/\d+)?$")
KAGGLE_TIMEOUT = 60.0
"""Seconds Kaggle may stay silent (connecting, or between two answers) before download gives up."""
KAGGLE_TIMEOUT_ENV = "GENDERFACE_KAGGLE_TIMEOUT"  # overrides KAGGLE_TIMEOUT, e.g. on slow links
_ROOM = (
    "free space there (~/.cache/kagglehub by default), or set KAGGLEHUB_CACHE to a folder on a "
    "disk with room, and rerun"
)


def download(handle: str, key: str = "data.sources.<name>") -> Path:
    """Download through kagglehub (its own cache; credentials from env or ~/.kaggle). `key` is
    the source's parameters (data.sources.<name>), as messages name them."""
    import kagglehub
    import requests
    from kagglehub.exceptions import (
        BackendError,
        CredentialError,
        DataCorruptionError,
        KaggleApiHTTPError,
        KaggleEnvironmentError,
        NotFoundError,
        UnauthenticatedError,
    )

    if not _KAGGLE_HANDLE.match(handle):
        raise GenderfaceError(
            f"{key}.source 'kaggle:{handle}': expected kaggle:<owner>/<slug>[/versions/N]"
        )
    log.info("source: Kaggle dataset %s (via kagglehub)", handle)
    instead = f"download the archive yourself and set {key}.source to path and {key}.path to it"
    timeout = _kaggle_timeout()
    try:
        with _requests_time_out(timeout):
            return Path(kagglehub.dataset_download(handle))
    except (NotFoundError, UnauthenticatedError, KaggleApiHTTPError) as err:
        status = getattr(getattr(err, "response", None), "status_code", None)
        if isinstance(err, NotFoundError) or status == 404:
            raise GenderfaceError(
                f"Kaggle dataset {handle!r} not found; check {key}.source (owner/slug)"
            ) from None
        if isinstance(err, UnauthenticatedError) or status in (401, 403):
            raise GenderfaceError(
                f"Kaggle refused {handle!r} ({status or type(err).__name__}); set KAGGLE_USERNAME "
                "and KAGGLE_KEY or ~/.kaggle/kaggle.json, and accept the dataset's terms on "
                "kaggle.com"
            ) from None
        raise GenderfaceError(
            f"Kaggle answered {status} for {handle!r}; try again later, or {instead}"
        ) from None
    except requests.Timeout as err:
        raise GenderfaceError(
            f"Kaggle did not answer within {timeout:g} s while downloading {handle!r} "
            f"({type(err).__name__}); check the network and rerun, set {KAGGLE_TIMEOUT_ENV} to "
            f"wait longer, or {instead}"
        ) from None
    except requests.RequestException as err:
        raise GenderfaceError(
            f"cannot reach Kaggle to download {handle!r} ({type(err).__name__}); check the "
            f"network, or {instead}"
        ) from None
    except OSError as err:  # writing kagglehub's cache; anything else is not a download failure
        if full := disk_full(err, f"{handle!r} to kagglehub's cache", _ROOM):
            raise full from err
        raise
    except (BackendError, CredentialError, DataCorruptionError, KaggleEnvironmentError) as err:
        reason = str(err).splitlines()[0] if str(err) else ""
        raise GenderfaceError(
            f"Kaggle download of {handle!r} failed ({type(err).__name__}: {reason}); rerun, or "
            f"{instead}"
        ) from err


def _kaggle_timeout() -> float:
    raw = os.environ.get(KAGGLE_TIMEOUT_ENV, "")
    try:
        seconds = float(raw) if raw else KAGGLE_TIMEOUT
    except ValueError:
        seconds = 0.0
    if not 0 < seconds < float("inf"):
        raise GenderfaceError(
            f"{KAGGLE_TIMEOUT_ENV}={raw!r}: expected a number of seconds above 0; unset it for "
            f"the default {KAGGLE_TIMEOUT:g}"
        )
    return seconds


@contextmanager
def _requests_time_out(seconds: float) -> Iterator[None]:
    """Give every request of kagglesdk's HTTP session a timeout where it has none.

    kagglesdk (under kagglehub) sends its API calls without one, so a server that accepts the
    connection and never answers would hang the stage for ever. requests sets timeouts per call
    or in a transport adapter; so an adapter that adds one is mounted on the session kagglesdk
    creates, and on no other. `seconds` bounds connecting and each wait for data; kagglehub
    does not retry, so it bounds the stall. kagglehub's own downloads set their own timeouts.
    """
    from kagglesdk.kaggle_http_client import KaggleHttpClient
    from requests import PreparedRequest, Response
    from requests.adapters import HTTPAdapter

    class TimeoutAdapter(HTTPAdapter):
        def send(self, request: PreparedRequest, **kwargs: Any) -> Response:
            if kwargs.get("timeout") is None:  # requests.Session.send passes it by keyword
                kwargs["timeout"] = seconds
            return super().send(request, **kwargs)

    init_session = KaggleHttpClient._init_session

    def init_with_timeout(client: KaggleHttpClient) -> Any:
        fresh = client._session is None
        init_session(client)
        if fresh:
            for prefix in ("https://", "http://"):
                client._session.mount(prefix, TimeoutAdapter())
        return client._session

    KaggleHttpClient._init_session = init_with_timeout
    try:
        yield
    finally:
        KaggleHttpClient._init_session = init_session
