"""Start and stop the whole service on one machine: moto server, resources, seed data, gateway, worker."""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from moto.server import ThreadedMotoServer

from exhaust import aws
from exhaust.local.atomic import serialize_dynamodb
from exhaust.local.gateway import LocalGateway
from exhaust.local.resources import create_resources
from exhaust.settings import RuntimeSettings, get_settings

DEFAULT_CREDENTIALS_FILE = Path(".exhaust/local.json")
STOP_BUDGET_SECONDS = 2.5
LOCAL_CHANNEL = "local-channel"
LOCAL_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "local",
    "AWS_SECRET_ACCESS_KEY": "local",
    "AWS_SESSION_TOKEN": "local",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "POWERTOOLS_SERVICE_NAME": "exhaust",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_DEV": "false",
}

# A seeder fills the fresh resources with what a newcomer needs. It sees the samples earlier seeders found and
# answers the entries it adds to the credentials file (top-level keys, plus "samples" merged with the others').
Seeder = Callable[[RuntimeSettings, str, dict[str, Any]], dict[str, Any]]


def free_port(host: str) -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def seeders() -> list[Seeder]:
    from exhaust.auth.seed import seed_credentials
    from exhaust.lake.seed import seed_lake
    from exhaust.standard.seed import seed_standard_datasets

    # The lake first: the credentials seeder licenses the lake's sample partner; the producer reads its telemetry.
    return [seed_lake, seed_credentials, seed_standard_datasets]


class LocalService:
    def __init__(self, host: str = "127.0.0.1", port: int = 8080, credentials_file: Path | None = None):
        self.host = host
        self.port = port
        self.credentials_file = credentials_file or DEFAULT_CREDENTIALS_FILE
        self._moto: ThreadedMotoServer | None = None
        self._gateway: LocalGateway | None = None
        self._threads: list[threading.Thread] = []
        self._stopping = threading.Event()
        self.credentials: dict[str, Any] = {}

    def start(self) -> dict[str, Any]:
        # The moto server logs every AWS call it serves; the gateway's own log is what a user wants.
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        serialize_dynamodb()  # conditional writes as atomic as DynamoDB's (exhaust.local.atomic)
        moto_port = free_port(self.host)
        self._moto = ThreadedMotoServer(ip_address=self.host, port=moto_port, verbose=False)
        self._moto.start()
        endpoint = f"http://{self.host}:{moto_port}"
        os.environ.update(LOCAL_ENVIRONMENT)
        os.environ["AWS_ENDPOINT_URL"] = endpoint
        aws.reset_clients()

        self._gateway = LocalGateway(self.host, self.port)
        settings = create_resources().model_copy(update={"cdn_base_url": f"{self._gateway.base_url}/cdn"})
        os.environ.update(settings.as_environ())
        get_settings.cache_clear()

        credentials: dict[str, Any] = {
            "baseUrl": self._gateway.base_url,
            "channel": LOCAL_CHANNEL,
            "awsEndpoint": endpoint,
            "samples": {},
        }
        for seed in seeders():
            added = seed(settings, LOCAL_CHANNEL, credentials["samples"])
            credentials["samples"].update(added.pop("samples", {}))
            credentials.update(added)
        self._start_thread("gateway", self._gateway.serve_forever)
        from exhaust.local.worker import LocalWorker  # the pipeline: queue -> workflow -> files

        self._start_thread("worker", LocalWorker(get_settings(), self._stopping).run)
        from exhaust.standard.local import LocalDailyProducer  # the daily schedule of the standard datasets

        self._start_thread("producer", LocalDailyProducer(get_settings(), self._stopping).run)
        self.credentials = credentials
        self.credentials_file.parent.mkdir(parents=True, exist_ok=True)
        self.credentials_file.write_text(json.dumps(credentials, indent=2) + "\n")
        self.credentials_file.chmod(0o600)
        return credentials

    def _start_thread(self, name: str, target: Callable[[], None]) -> None:
        thread = threading.Thread(target=target, name=f"exhaust-{name}", daemon=True)
        thread.start()
        self._threads.append(thread)

    @property
    def stopping(self) -> threading.Event:
        return self._stopping

    def stop(self) -> None:
        self._stopping.set()
        if self._gateway is not None:
            self._gateway.shutdown()
            self._gateway.server_close()
        # One shared budget: a thread still busy after it is left to die with the process (they are daemons),
        # so `exhaust local` always exits within the 5 seconds it promises.
        deadline = time.monotonic() + STOP_BUDGET_SECONDS
        for thread in self._threads:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))
        if self._moto is not None:
            self._moto.stop()
