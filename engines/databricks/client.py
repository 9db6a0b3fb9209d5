"""The workspace client, authenticated the ordinary Databricks way (databricks-sdk unified auth: a
profile in ~/.databrickscfg, DATABRICKS_HOST + DATABRICKS_TOKEN, OAuth ...). Errors come out as one
line that never carries a credential."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import TYPE_CHECKING

from casper.errors import CasperError
from casper.settings import Settings

if TYPE_CHECKING:
    from databricks.sdk import WorkspaceClient

#: how long the SDK retries a failing call (429, 503, connection refused) before giving up
RETRY_TIMEOUT_ENV = "CASPER_DATABRICKS_RETRY_SECONDS"
DEFAULT_RETRY_SECONDS = 300


class DatabricksError(CasperError):
    pass


def workspace_client(settings: Settings) -> WorkspaceClient:
    try:
        from databricks.sdk import WorkspaceClient
        from databricks.sdk.config import Config
    except ImportError:
        raise DatabricksError(
            "the databricks engine needs databricks-sdk: pip install 'caspers-kitchens[databricks]'"
        ) from None
    retry = int(os.environ.get(RETRY_TIMEOUT_ENV, DEFAULT_RETRY_SECONDS))
    try:
        config = Config(profile=settings.databricks_profile, retry_timeout_seconds=retry)
        return WorkspaceClient(config=config)
    except ValueError as exc:  # the SDK's "cannot configure default credentials" and the like
        raise DatabricksError(f"cannot authenticate to Databricks: {one_line(exc)}") from None


@contextlib.contextmanager
def workspace_errors(what: str, host: str | None) -> Iterator[None]:
    """A refused, failed or unreachable call becomes one line saying what was being done."""
    from databricks.sdk.errors import DatabricksError as SdkError
    from requests.exceptions import ConnectionError as HttpConnectionError

    try:
        yield
    except SdkError as exc:
        raise DatabricksError(f"{what}: the workspace refused: {one_line(exc)}") from None
    except (TimeoutError, ConnectionError, HttpConnectionError) as exc:
        cause = exc.__cause__ or exc
        raise DatabricksError(
            f"{what}: cannot reach the workspace {host or '(no host configured)'}: {one_line(cause)}"
        ) from None


def one_line(error: BaseException) -> str:
    """An SDK error as one line (its first), which names the problem and never a token."""
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__
