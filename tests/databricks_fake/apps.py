"""Databricks Apps (REST 2.0 `apps`): an app's compute starts, then deployments of workspace source.

An app is ACTIVE after `pending_polls["app"]` polls; a deployment needs ACTIVE compute and an existing
workspace folder as source, and SUCCEEDS after `pending_polls["app_deployment"]` polls, after which the
app reports it as active_deployment and its status as RUNNING. No code is run.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from databricks.sdk.service.apps import (
    App,
    AppDeployment,
    AppDeploymentMode,
    AppDeploymentState,
    AppDeploymentStatus,
    ApplicationState,
    ApplicationStatus,
    ComputeState,
    ComputeStatus,
)
from databricks.sdk.service.workspace import ObjectType

from .lifecycle import Countdown
from .routing import ApiError, Request, already_exists, invalid, not_found
from .workspace_files import normalise

if TYPE_CHECKING:
    from .workspace import FakeWorkspace

APPS = "/api/2.0/apps"
APP_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{1,29}$")


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def app_principal(app_name: str) -> str:
    """The client id of the service principal the fake gives the app `app_name`."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"fake-databricks-app:{app_name}"))


@dataclass
class Deployment:
    info: AppDeployment
    countdown: Countdown


@dataclass
class HostedApp:
    info: App
    countdown: Countdown
    deployments: dict[str, Deployment] = field(default_factory=dict)


class Apps:
    def __init__(self, ws: FakeWorkspace):
        self.ws = ws
        self.apps: dict[str, HostedApp] = {}

    def routes(self):
        return [
            ("POST", APPS, self.create),
            ("GET", f"{APPS}/{{name}}", self.get),
            ("DELETE", f"{APPS}/{{name}}", self.delete),
            ("POST", f"{APPS}/{{name}}/deployments", self.deploy),
            ("GET", f"{APPS}/{{name}}/deployments/{{deployment_id}}", self.get_deployment),
        ]

    def _app(self, name: str) -> HostedApp:
        if name not in self.apps:
            raise not_found(
                f"App with name {name} does not exist or is deleted.",
                error_code="RESOURCE_DOES_NOT_EXIST",
            )
        return self.apps[name]

    def create(self, request: Request):
        info = App.from_dict(request.json())
        if not info.name or not APP_NAME.match(info.name):
            raise invalid(
                f"App name '{info.name}' is invalid: use 2-30 lowercase letters, digits or hyphens."
            )
        if info.name in self.apps:
            raise already_exists(f"An app with the same name ({info.name}) already exists.")
        for resource in info.resources or []:
            if resource.database is not None:
                self.ws.lakebase.instance(resource.database.instance_name)
        no_compute = request.flag("no_compute")
        info.id = str(uuid.uuid4())
        info.create_time = info.update_time = _now()
        info.creator = info.updater = self.ws.user_name
        info.url = f"https://{info.name}-{self.ws.workspace_id}.aws.databricksapps.com"
        # named after the app, so a test can give it a PostgreSQL role before the app exists (as
        # Databricks makes one for an app whose resources include a database)
        info.service_principal_client_id = app_principal(info.name)
        info.service_principal_id = abs(hash(info.id)) % 10**15
        info.service_principal_name = f"app-{info.id[:6]} {info.name}"
        info.compute_status = ComputeStatus(
            state=ComputeState.STOPPED if no_compute else ComputeState.STARTING,
            message="App compute is stopped." if no_compute else "App compute is starting.",
        )
        info.app_status = ApplicationStatus(
            state=ApplicationState.UNAVAILABLE, message="App has not been deployed yet."
        )
        self.apps[info.name] = HostedApp(info, Countdown(self.ws.pending_polls["app"]))
        return info.as_dict()

    def _advance(self, app: HostedApp) -> None:
        status = app.info.compute_status
        if app.countdown.poll() and status.state == ComputeState.STARTING:
            app.info.compute_status = ComputeStatus(
                state=ComputeState.ACTIVE, message="App compute is running."
            )

    def get(self, request: Request):
        app = self._app(request.params["name"])
        self._advance(app)
        return app.info.as_dict()

    def delete(self, request: Request):
        app = self._app(request.params["name"])
        del self.apps[app.info.name]
        app.info.compute_status = ComputeStatus(
            state=ComputeState.DELETING, message="App is being deleted."
        )
        return app.info.as_dict()

    def deploy(self, request: Request):
        app = self._app(request.params["name"])
        deployment = AppDeployment.from_dict(request.json())
        if app.info.compute_status.state != ComputeState.ACTIVE:
            raise ApiError(
                400,
                "INVALID_STATE",
                f"Cannot deploy app {app.info.name}: its compute is {app.info.compute_status.state.value}.",
            )
        source = deployment.source_code_path or ""
        found = self.ws.workspace_files.objects.get(normalise(source)) if source else None
        if found is None or found.object_type != ObjectType.DIRECTORY:
            raise invalid(f"Source code path {source!r} is not a workspace folder.")
        deployment.deployment_id = uuid.uuid4().hex[:32]
        deployment.mode = deployment.mode or AppDeploymentMode.SNAPSHOT
        deployment.creator = self.ws.user_name
        deployment.create_time = deployment.update_time = _now()
        deployment.status = AppDeploymentStatus(
            state=AppDeploymentState.IN_PROGRESS, message="Deployment is in progress."
        )
        app.deployments[deployment.deployment_id] = Deployment(
            deployment, Countdown(self.ws.pending_polls["app_deployment"])
        )
        app.info.pending_deployment = deployment
        app.info.app_status = ApplicationStatus(
            state=ApplicationState.DEPLOYING, message="App is deploying."
        )
        return deployment.as_dict()

    def get_deployment(self, request: Request):
        app = self._app(request.params["name"])
        deployment_id = request.params["deployment_id"]
        if deployment_id not in app.deployments:
            raise not_found(
                f"Deployment {deployment_id} does not exist.", error_code="RESOURCE_DOES_NOT_EXIST"
            )
        deployment = app.deployments[deployment_id]
        info = deployment.info
        if deployment.countdown.poll() and info.status.state == AppDeploymentState.IN_PROGRESS:
            info.status = AppDeploymentStatus(
                state=AppDeploymentState.SUCCEEDED, message="App started successfully"
            )
            info.update_time = _now()
            app.info.active_deployment = info
            app.info.pending_deployment = None
            app.info.default_source_code_path = info.source_code_path
            app.info.app_status = ApplicationStatus(
                state=ApplicationState.RUNNING, message="App is running."
            )
        return info.as_dict()
