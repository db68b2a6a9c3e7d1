"""Start and stop the whole service on one machine: moto server, resources, seed data, gateway, worker."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from exhaust import aws, resources
from exhaust.observability import logger
from exhaust.pipeline.definition import DEFAULT_MAP_MAX_CONCURRENCY
from exhaust.settings import RuntimeSettings, get_settings
from moto.server import ThreadedMotoServer
from pydantic import ValidationError

from exhaust_devkit.lake.seed import refresh_kept_index
from exhaust_devkit.local.atomic import serialize_dynamodb
from exhaust_devkit.local.gateway import LocalGateway
from exhaust_devkit.local.resources import create_resources
from exhaust_devkit.local.state import LocalSetupError, LocalState

__all__ = ["STOP_DEADLINE_SECONDS", "LocalService", "LocalSetupError", "configured_settings"]

DEFAULT_CREDENTIALS_FILE = Path(".exhaust/local.json")
DEFAULT_STATE_DIR = Path(".exhaust/state")
# Every acknowledged write is in the journal before its answer (exhaust_devkit.local.journal), so a stop does not
# save: it stops taking calls, gives the threads this long to notice, and stops moto; builds are not waited for.
STOP_BUDGET_SECONDS = 1.0
# Past this, the command leaves whatever the stop is waiting for (exhaust_devkit.cli).
STOP_DEADLINE_SECONDS = 4.8
# A full save starts this often when something was written since the last (counted from the start of the previous
# one): it empties the journal, so that the next start replays a few writes rather than a whole session's.
SAVE_EVERY_SECONDS = 20.0
LOCAL_CHANNEL = "local-channel"
LOCAL_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "local",
    "AWS_SECRET_ACCESS_KEY": "local",
    "AWS_SESSION_TOKEN": "local",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    **resources.FUNCTION_ENVIRONMENT,
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_DEV": "false",
}

# A seeder fills the fresh resources with what a newcomer needs. It sees the samples earlier seeders found and
# answers the entries it adds to the credentials file (top-level keys, plus "samples" merged with the others').
Seeder = Callable[[RuntimeSettings, str, dict[str, Any]], dict[str, Any]]


# Settings of the stack (infra/config.py) that reach the functions under another name or not as a variable at all.
LINK_EXPIRY_MINUTES = "EXHAUST_LINK_EXPIRY_MINUTES"
MAP_MAX_CONCURRENCY = "EXHAUST_MAP_MAX_CONCURRENCY"
MAP_MAX_CONCURRENCY_LIMIT = 1000  # infra/config.py's bound (a Distributed Map's MaxConcurrency)


def configured_settings(environ: Mapping[str, str]) -> tuple[RuntimeSettings, int]:
    """The EXHAUST_* settings of this shell as the deployed functions get them, and the map's concurrency.

    The stack's names are taken (EXHAUST_LINK_EXPIRY_MINUTES, EXHAUST_MAP_MAX_CONCURRENCY) as well as the
    functions' own (EXHAUST_LINK_EXPIRY_SECONDS, ...); an invalid value stops local mode with the variable named.
    """
    values = dict(environ)
    if LINK_EXPIRY_MINUTES in values:
        values.setdefault("EXHAUST_LINK_EXPIRY_SECONDS", str(_whole_number(values, LINK_EXPIRY_MINUTES) * 60))
    concurrency = (
        _whole_number(values, MAP_MAX_CONCURRENCY) if MAP_MAX_CONCURRENCY in values else DEFAULT_MAP_MAX_CONCURRENCY
    )
    if not 1 <= concurrency <= MAP_MAX_CONCURRENCY_LIMIT:
        raise LocalSetupError(
            f"{MAP_MAX_CONCURRENCY}: must be from 1 to {MAP_MAX_CONCURRENCY_LIMIT}, got {concurrency}"
        )
    try:
        return RuntimeSettings.from_environ(values), concurrency
    except ValidationError as failure:
        error = failure.errors()[0]
        variable = f"EXHAUST_{str(error['loc'][0]).upper()}"
        raise LocalSetupError(f"{variable}: {error['msg']} (got {error.get('input')!r})") from None


def _whole_number(values: Mapping[str, str], variable: str) -> int:
    try:
        return int(values[variable])
    except ValueError:
        raise LocalSetupError(f"{variable}: must be a whole number, got {values[variable]!r}") from None


def free_port(host: str) -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def seeders() -> list[Seeder]:
    from exhaust_devkit.auth.seed import seed_credentials
    from exhaust_devkit.lake.seed import seed_lake
    from exhaust_devkit.standard.seed import seed_standard_datasets

    # The lake first: the credentials seeder licenses the lake's sample partner; the producer reads its telemetry.
    return [seed_lake, seed_credentials, seed_standard_datasets]


class LocalService:
    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 8080,
        credentials_file: Path | None = None,
        state_dir: Path | None = None,
        fresh: bool = False,
    ):
        self.host = host
        self.port = port
        self.credentials_file = credentials_file or DEFAULT_CREDENTIALS_FILE
        self.state_dir = state_dir or DEFAULT_STATE_DIR
        self.state = LocalState(self.state_dir)
        self.fresh = fresh
        self.restored = False
        self._moto: ThreadedMotoServer | None = None
        self._gateway: LocalGateway | None = None
        self._threads: list[threading.Thread] = []
        self._stopping = threading.Event()
        self._serving = False
        self.credentials: dict[str, Any] = {}
        self.settings: RuntimeSettings | None = None

    def start(self) -> dict[str, Any]:
        configured, map_max_concurrency = configured_settings(os.environ)
        self.state.claim()
        if self.fresh:
            self.state.clear()
        kept = self.state.credentials() if self.state.exists() else None
        # The moto server logs every AWS call it serves; the gateway's own log is what a user wants.
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        serialize_dynamodb()  # conditional writes as atomic as DynamoDB's (exhaust_devkit.local.atomic)
        moto_port = free_port(self.host)
        self._moto = ThreadedMotoServer(ip_address=self.host, port=moto_port, verbose=False)
        self._moto.start()
        endpoint = f"http://{self.host}:{moto_port}"
        os.environ.update(LOCAL_ENVIRONMENT)
        os.environ["AWS_ENDPOINT_URL"] = endpoint
        aws.reset_clients()

        self._gateway = LocalGateway(self.host, self.port)
        created = create_resources(secrets_key=self.state.secrets_key() if kept is not None else None)
        settings = configured.model_copy(
            update={**created.model_dump(exclude_defaults=True), "cdn_base_url": f"{self._gateway.base_url}/cdn"}
        )
        os.environ.update(settings.as_environ())
        get_settings.cache_clear()
        self.settings = settings

        credentials: dict[str, Any] = {"baseUrl": self._gateway.base_url, "awsEndpoint": endpoint}
        if kept is not None:
            self.state.load()
            if self.state.missing_objects:
                logger.warning(
                    "the kept state was damaged: objects missing, the rest restored",
                    extra={"missing": self.state.missing_objects[:20], "count": len(self.state.missing_objects)},
                )
            if self.state.damaged_records:
                logger.warning(
                    "the journal held damaged records (a write cut by a crash); the others were replayed",
                    extra={"records": self.state.damaged_records[:20], "count": len(self.state.damaged_records)},
                )
            credentials.update(kept)
            self.restored = True
            refresh_kept_index(settings.lake_uri)
            resume_interrupted_work(settings)
        else:
            credentials.update({"channel": LOCAL_CHANNEL, "samples": {}})
            for seed in seeders():
                added = seed(settings, LOCAL_CHANNEL, credentials["samples"])
                credentials["samples"].update(added.pop("samples", {}))
                credentials.update(added)
        self.credentials = credentials
        self.state.save(credentials, settings.secrets_key_id)
        self.state.journal.start(*self.state.journal_names())  # from here, each write is on disk before its answer
        self._start_thread("gateway", self._gateway.serve_forever)
        self._serving = True
        from exhaust_devkit.local.worker import LocalWorker  # the pipeline: queue -> workflow -> files

        worker = LocalWorker(get_settings(), self._stopping, map_max_concurrency=map_max_concurrency)
        from exhaust.api import cancel_and_delete  # cancel stops the worker's executions

        assert worker.workflow is not None
        cancel_and_delete.use_workflow(worker.workflow)
        self._start_thread("worker", worker.run)
        from exhaust_devkit.local.callbacks import LOCAL_CALLBACK_THREADS, LocalCallbacks  # apart from the pipeline

        callbacks = LocalCallbacks(get_settings(), self._stopping)
        for number in range(LOCAL_CALLBACK_THREADS):
            self._start_thread(f"callbacks-{number}", callbacks.run)
        from exhaust_devkit.standard.local import LocalDailyProducer  # the daily schedule of the standard datasets

        self._start_thread("producer", LocalDailyProducer(get_settings(), self._stopping).run)
        from exhaust_devkit.local.indexer import LocalIndexSchedule  # the lake index's state machine, every minute

        self._start_thread("indexer", LocalIndexSchedule(get_settings(), self._stopping).run)
        self._start_thread("saver", self._save_periodically)
        self.credentials_file.parent.mkdir(parents=True, exist_ok=True)
        self.credentials_file.write_text(json.dumps(credentials, indent=2) + "\n")
        self.credentials_file.chmod(0o600)
        return credentials

    def _save_periodically(self) -> None:
        next_save = time.monotonic() + SAVE_EVERY_SECONDS
        while not self._stopping.wait(max(0.0, next_save - time.monotonic())):
            next_save = time.monotonic() + SAVE_EVERY_SECONDS
            if self.settings is None or not self.state.journal.records_since_rotation:
                continue
            try:
                self.state.save(self.credentials, self.settings.secrets_key_id)
            except Exception:
                logger.exception("saving local mode's state failed; the journal keeps every write")

    def _start_thread(self, name: str, target: Callable[[], None]) -> None:
        thread = threading.Thread(target=target, name=f"exhaust-{name}", daemon=True)
        thread.start()
        self._threads.append(thread)

    @property
    def stopping(self) -> threading.Event:
        return self._stopping

    def stop(self) -> None:
        """Stop taking calls, give the threads a moment, stop moto.

        Nothing is saved here: every write acknowledged so far is already in the journal, so the stop takes the
        same short time at any state size. Builds still running are not waited for: their requests are kept
        PROCESSING (or SUBMITTED) and the next start re-queues them.
        """
        self._stopping.set()
        if self._gateway is not None:
            if self._serving:
                self._gateway.shutdown()  # waits for serve_forever to return: only when it runs
            self._gateway.server_close()
        deadline = time.monotonic() + STOP_BUDGET_SECONDS
        for thread in self._threads:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))
        if self._moto is not None:
            self._moto.stop()
        self.state.journal.stop()


class NoExecutionSurvives:
    """The local workflow as a restart leaves it: the executions of the last run ended with its process."""

    def execution_arn(self, name: str) -> str:
        return name

    def start(self, name: str, payload: dict[str, Any]) -> str:
        raise NotImplementedError("the start sweep never starts an execution")

    def describe(self, execution_arn: str) -> str | None:
        return None

    def stop(self, execution_arn: str, cause: str) -> None:
        return None


# What a request building when local mode stopped says once resumed (the sweep's own words are about AWS failures).
RESUMED_MESSAGE = "interrupted when local mode stopped; it resumes automatically"


def say_stopped(store: Any, request_id: str) -> None:
    """The recovered request's statusMessage tells what happened: local mode stopped, not an AWS failure."""
    from exhaust.ports import ConcurrentUpdate
    from exhaust.requests.models import Status

    request = store.get(request_id)
    if request is None or request.status != Status.SUBMITTED:
        return  # FAILED after its last attempt: its message says why
    with contextlib.suppress(ConcurrentUpdate):  # the worker took it meanwhile; its next state says what it does
        store.replace(request.model_copy(update={"statusMessage": RESUMED_MESSAGE}), request.version)


def resume_interrupted_work(settings: RuntimeSettings) -> None:
    """One sweep at start, without the usual waits: every request left SUBMITTED is queued again (the queue
    is not kept), every one left PROCESSING ends its attempt as lost and is queued again (or FAILED, after its
    last attempt), as the sweeper does in AWS after a crash."""
    from exhaust.pipeline.steps import Pipeline
    from exhaust.pipeline.sweeper import Sweeper

    from exhaust_devkit.local.worker import LOCAL_RETRY_BASE_DELAY_SECONDS

    at_once = settings.model_copy(update={"sweep_submitted_after_seconds": 0})
    pipeline = Pipeline(settings=at_once, retry_base_delay_seconds=LOCAL_RETRY_BASE_DELAY_SECONDS)
    report = Sweeper(pipeline=pipeline, workflow=NoExecutionSurvives(), processing_grace_ms=0).sweep()
    for request_id in report.recovered:
        say_stopped(pipeline.store, request_id)
    if report.requeued or report.recovered:
        logger.info("resumed interrupted requests", extra={"requeued": report.requeued, "recovered": report.recovered})
