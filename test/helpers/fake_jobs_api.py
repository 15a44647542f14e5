"""A strict in-memory fake of the Databricks Jobs API 2.2 (and the job permissions and OAuth endpoints the deploy
uses), served over HTTP on 127.0.0.1, for deploy-job.sh tests: the one part of the deploy that cannot run here.

Strict means it rejects what the real API would: a missing or wrong bearer token (401), unknown paths (404) and
methods (405); a request body that databricks-sdk's own types do not hold (its JobsAPI method's parameters, each
dataclass by its from_dict/as_dict round trip: an unknown field, a wrong type or enum value is a 400); and the
server's rules: a job ACL with exactly one IS_OWNER, an S3 log destination with its region, a continuous job with
one run (run-now on a running one replaces its run). It keeps jobs, runs and permissions, paginates, emulates the
continuous scheduler and a run's life cycle (PENDING, then RUNNING or a failure, and an end after RUNNING if told),
serves OAuth machine-to-machine tokens for one service principal, can be told to fail or to answer with an HTML
page, and records every call.
"""

from __future__ import annotations

import base64
import copy
import dataclasses
import enum
import json
import threading
import time
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from databricks.sdk.service import jobs

PREFIX = "/api/2.2/"
PERMISSIONS_PREFIX = "/api/2.0/permissions/jobs/"
ACTIVE_STATES = frozenset({"QUEUED", "PENDING", "RUNNING", "TERMINATING", "BLOCKED", "WAITING_FOR_RETRY"})
ENDED = frozenset({"TERMINATED", "INTERNAL_ERROR", "SKIPPED"})


def _params(method: Any, drop: tuple[str, ...] = ()) -> dict[str, Any]:
    """A request body's fields and their types: the SDK method's own parameters (the SDK builds the body from them)."""
    hints = typing.get_type_hints(method)
    return {k: v for k, v in hints.items() if k not in ("self", "return", *drop)}


# Every body the deploy can send, typed by databricks-sdk (jobs.JobsAPI): what the real API accepts.
BODIES = {
    "jobs/create": _params(jobs.JobsAPI.create),
    "jobs/reset": _params(jobs.JobsAPI.reset),
    "jobs/update": _params(jobs.JobsAPI.update),
    "jobs/delete": _params(jobs.JobsAPI.delete),
    "jobs/run-now": _params(jobs.JobsAPI.run_now),
    "jobs/runs/cancel": _params(jobs.JobsAPI.cancel_run),
    "permissions/jobs/{job_id}": _params(jobs.JobsAPI.set_permissions, drop=("job_id",)),
}
REQUIRED = {
    "jobs/reset": ("job_id", "new_settings"),
    "jobs/update": ("job_id",),
    "jobs/delete": ("job_id",),
    "jobs/run-now": ("job_id",),
    "jobs/runs/cancel": ("run_id",),
    "permissions/jobs/{job_id}": ("access_control_list",),
}


class ApiError(Exception):
    def __init__(self, status: int, error_code: str, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.error_code, self.message, self.headers = status, error_code, message, headers or {}


def _bad(message: str) -> ApiError:
    return ApiError(400, "INVALID_PARAMETER_VALUE", message)


def _obj(value: Any, where: str, allowed: frozenset[str] | None = None, required: tuple[str, ...] = ()) -> dict:
    if not isinstance(value, dict):
        raise _bad(f"{where}: expected an object")
    unknown = set(value) - allowed if allowed is not None else set()
    if unknown:
        raise _bad(f"{where}: unknown field(s) {sorted(unknown)}")
    missing = [k for k in required if k not in value]
    if missing:
        raise _bad(f"{where}: missing required field(s) {missing}")
    return value


def _typed(value: Any, kind: type, where: str) -> Any:
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise _bad(f"{where}: expected {kind.__name__}, got {type(value).__name__}")
    return value


def _difference(sent: Any, kept: Any, where: str) -> str:
    """Where the SDK's from_dict/as_dict round trip changed the value: a field it does not know, a wrong type or
    enum value (dropped), an empty value (never sent by the SDK)."""
    if isinstance(sent, dict) and isinstance(kept, dict):
        for k in sent:
            if k not in kept:
                return f"{where}.{k}: not a field of the request type, or a value it cannot hold ({sent[k]!r})"
            found = _difference(sent[k], kept[k], f"{where}.{k}")
            if found:
                return found
        return ""
    if isinstance(sent, list) and isinstance(kept, list) and len(sent) == len(kept):
        return next(
            (d for i, (x, y) in enumerate(zip(sent, kept, strict=True)) if (d := _difference(x, y, f"{where}[{i}]"))),
            "",
        )
    return "" if sent == kept and type(sent) is type(kept) else f"{where}: {sent!r} is not a valid value"


def check_type(value: Any, hint: Any, where: str) -> None:
    """`value` (decoded JSON) against an SDK type: dataclasses by their own from_dict/as_dict round trip."""
    origin = typing.get_origin(hint)
    if origin is typing.Union:
        (hint,) = [a for a in typing.get_args(hint) if a is not type(None)]
        origin = typing.get_origin(hint)
    if origin is list:
        for i, item in enumerate(_typed(value, list, where)):
            check_type(item, typing.get_args(hint)[0], f"{where}[{i}]")
    elif origin is dict:
        for k, item in _typed(value, dict, where).items():
            check_type(item, typing.get_args(hint)[1], f"{where}.{k}")
    elif dataclasses.is_dataclass(hint):
        kept = hint.from_dict(_obj(value, where)).as_dict()
        diff = _difference(value, kept, where) or _difference(kept, value, where)
        if diff:
            raise _bad(diff)
    elif isinstance(hint, type) and issubclass(hint, enum.Enum):
        if value not in {m.value for m in hint}:
            raise _bad(f"{where}: {value!r} is not one of {sorted(m.value for m in hint)}")
    elif hint in (int, str, bool):
        _typed(value, hint, where)
    elif hint is float:
        _typed(value, (int, float), where)  # type: ignore[arg-type]


def check_body(route: str, body: dict) -> dict:
    fields = BODIES[route]
    _obj(body, "body", frozenset(fields), REQUIRED.get(route, ()))
    for k, v in body.items():
        check_type(v, fields[k], k)
    return body


def _s3(value: Any, where: str) -> None:
    s3 = value.get("s3") if isinstance(value, dict) else None
    if s3 is None:
        return
    if not str(s3.get("destination", "")).startswith("s3://"):
        raise _bad(f"{where}.s3.destination: expected s3://")
    if not (s3.get("region") or s3.get("endpoint")):  # S3StorageInfo: either region or endpoint must be set
        raise _bad(f"{where}.s3: Either region or endpoint must be set for an S3 destination.")


def validate_cluster(c: Any, where: str) -> None:
    """The server's rules on a cluster spec beyond its type (compute.ClusterSpec checks the fields)."""
    _obj(c, where, None, ("spark_version",))
    if ("num_workers" in c) == ("autoscale" in c):
        raise _bad(f"{where}: set exactly one of num_workers and autoscale")
    if "autoscale" in c and c["autoscale"].get("min_workers", 0) > c["autoscale"].get("max_workers", 0):
        raise _bad(f"{where}.autoscale: min_workers > max_workers")
    for i, script in enumerate(c.get("init_scripts", [])):
        _s3(script, f"{where}.init_scripts[{i}]")
    log_conf = c.get("cluster_log_conf") or {}
    if len(log_conf) > 1:
        raise _bad(f"{where}.cluster_log_conf: set exactly one of s3, volumes, dbfs")
    _s3(log_conf, f"{where}.cluster_log_conf")
    if c.get("docker_image") and c.get("data_security_mode") not in (None, "SINGLE_USER", "NONE"):
        raise _bad(f"{where}: Databricks Container Services need a dedicated (single user) cluster")


def validate_settings(s: Any, where: str) -> dict:
    """JobSettings as the server takes them: the SDK type, then the rules the type cannot say."""
    check_type(s, jobs.JobSettings, where)
    _obj(s, where, None, ("name", "tasks"))
    if not s["name"]:
        raise _bad(f"{where}.name: must not be empty")
    if not s["tasks"]:
        raise _bad(f"{where}.tasks: must not be empty")
    for i, t in enumerate(s["tasks"]):
        w = f"{where}.tasks[{i}]"
        _obj(t, w, None, ("task_key",))
        if "new_cluster" in t:
            validate_cluster(t["new_cluster"], f"{w}.new_cluster")
        if "continuous" in s and "max_retries" in t:
            raise _bad(f"{w}.max_retries: retry policies cannot be used with a continuous job")
    if "continuous" in s and ("schedule" in s or "trigger" in s):
        raise _bad(f"{where}: continuous cannot be combined with schedule or trigger")
    if "run_as" in s and len(s["run_as"]) != 1:
        raise _bad(f"{where}.run_as: set exactly one identity")
    return s


def validate_acl(acl: list[dict]) -> list[dict]:
    """A job's ACL replaces the direct permissions: exactly one IS_OWNER, a user or service principal."""
    for i, a in enumerate(acl):
        if len(a) != 2 or "permission_level" not in a:
            raise _bad(f"access_control_list[{i}]: one principal and a permission level, got {a}")
    owners = [a for a in acl if a["permission_level"] == "IS_OWNER"]
    if len(owners) != 1 or "group_name" in owners[0]:
        raise _bad("The job must have exactly one owner.")
    return copy.deepcopy(acl)


@dataclass
class Call:
    method: str
    path: str  # without the /api/2.2/ prefix, e.g. "jobs/list"
    query: dict[str, str]
    body: Any
    status: int = 0


@dataclass
class _Failure:
    status: int
    times: int
    path: str | None
    headers: dict[str, str] = field(default_factory=dict)
    html: bool = False


class FakeJobsApi:
    """Use as a context manager; `url` is the DATABRICKS_HOST to give the deploy.

    Auth: the bearer `token` (a PAT), or a token minted by /oidc/v1/token for `client_id`/`client_secret` (OAuth
    machine-to-machine, as the SDK's oauth-m2m does it: host metadata, OIDC discovery, client-credentials grant).
    """

    def __init__(
        self,
        token: str,
        page_size: int = 100,
        auto_start_continuous: bool = True,
        client_id: str = "",
        client_secret: str = "",
    ):
        self.token, self.page_size, self.auto_start_continuous = token, page_size, auto_start_continuous
        self.client_id, self.client_secret = client_id, client_secret
        self.jobs: dict[int, dict] = {}
        self.runs: dict[int, dict] = {}
        self.permissions: dict[int, list[dict]] = {}
        self.calls: list[Call] = []
        self.honour_name_filter = True  # False: jobs/list ignores `name`, as API 2.0 did
        # A new run is PENDING for `pending_polls` runs/get calls, then becomes `run_outcome`: "RUNNING", or a
        # terminal life cycle state (with `run_failure_message`), or "PENDING" to stay pending for ever.
        self.pending_polls = 1
        self.run_outcome = "RUNNING"
        self.run_failure_message = ""
        # A RUNNING run ends (TERMINATED, FAILED, with `run_end_message`) after `run_lifetime_polls` runs/get calls;
        # None: it keeps running.
        self.run_lifetime_polls: int | None = None
        self.run_end_message = ""
        self.on_running: Callable[[dict], None] = lambda run: None  # called when a run becomes RUNNING
        self.before_create: Callable[[], None] = lambda: None  # e.g. a concurrent deploy's create
        self.restarts: list[tuple[int, int]] = []  # (old run, new run) replaced by run-now
        self._failures: list[_Failure] = []
        self._tokens: dict[str, int] = {}
        self._oauth_tokens: set[str] = set()
        self._next_id = 1000
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name="fake-jobs-api", daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> FakeJobsApi:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    # --- test controls ---------------------------------------------------------------------------------------

    def add_job(self, settings: dict) -> int:
        with self._lock:
            job_id = self._new_id()
            self.jobs[job_id] = copy.deepcopy(settings)
            return job_id

    def add_run(self, job_id: int, state: str = "RUNNING") -> int:
        with self._lock:
            return self._start_run(job_id, state)

    def fail(
        self, status: int, times: int = 1, path: str | None = None, retry_after: int | None = None, html: bool = False
    ) -> None:
        """Answer the next `times` calls (to `path`, or any) with `status`; html: an HTML page instead of JSON
        (what a proxy or a login page sends)."""
        headers = {} if retry_after is None else {"Retry-After": str(retry_after)}
        self._failures.append(_Failure(status, times, path, headers, html))

    def active_runs(self, job_id: int) -> list[dict]:
        return [r for r in self.runs.values() if r["job_id"] == job_id and r["state"] in ACTIVE_STATES]

    def api_calls(self) -> list[Call]:
        """Calls to the Jobs and permissions APIs (not the auth discovery and token endpoints)."""
        return [c for c in self.calls if not c.path.startswith(("/", "oidc"))]

    def writes(self) -> list[Call]:
        return [c for c in self.api_calls() if c.method in ("POST", "PUT", "PATCH")]

    def paths(self) -> list[str]:
        return [f"{c.method} {c.path}" for c in self.api_calls()]

    # --- request handling ------------------------------------------------------------------------------------

    def handle(self, method: str, raw_path: str, headers: Any, raw_body: bytes) -> tuple[int, bytes, str, dict]:
        parts = urlsplit(raw_path)
        path = parts.path.removeprefix(PREFIX) if parts.path.startswith(PREFIX) else parts.path
        path = (
            "permissions/jobs/" + path.removeprefix(PERMISSIONS_PREFIX) if path.startswith(PERMISSIONS_PREFIX) else path
        )
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        call = Call(method, path.removeprefix("/") if path.startswith("/oidc") else path, query, None)
        self.calls.append(call)
        try:
            if self.token in raw_path or (self.client_secret and self.client_secret in raw_path):
                raise _bad("credentials in the URL")
            if parts.path in _PUBLIC:
                status, payload = _PUBLIC[parts.path](self, method, headers, raw_body)
                call.status = status
                return status, json.dumps(payload).encode(), "application/json", {}
            if headers.get("Authorization") not in {f"Bearer {t}" for t in {self.token, *self._oauth_tokens}}:
                raise ApiError(401, "UNAUTHENTICATED", "Invalid access token.")
            for f in self._failures:
                if f.times > 0 and (f.path is None or f.path == path):
                    f.times -= 1
                    call.status = f.status
                    if f.html:
                        return f.status, b"<html><body>Sign in to continue</body></html>", "text/html", {}
                    raise ApiError(
                        f.status,
                        "TEMPORARILY_UNAVAILABLE" if f.status != 429 else "REQUEST_LIMIT_EXCEEDED",
                        f"injected HTTP {f.status}",
                        f.headers,
                    )
            route_key = "permissions/jobs/{job_id}" if path.startswith("permissions/jobs/") else path
            route = _ROUTES.get(route_key)
            if route is None:
                raise ApiError(404, "ENDPOINT_NOT_FOUND", f"No API found for '{method} {parts.path}'")
            if route[0] != method:
                raise ApiError(405, "METHOD_NOT_ALLOWED", f"{method} not allowed on {path}")
            if method in ("POST", "PUT", "PATCH"):
                if headers.get("Content-Type") != "application/json":
                    raise ApiError(400, "MALFORMED_REQUEST", "Content-Type must be application/json")
                try:
                    call.body = json.loads(raw_body)
                except ValueError as e:
                    raise ApiError(400, "MALFORMED_REQUEST", f"invalid JSON: {e}") from e
                check_body(route_key, _obj(call.body, "body"))
            elif raw_body:
                raise _bad("GET with a body")
            if route_key != path:
                query = {**query, "job_id": path.rsplit("/", 1)[1]}
            with self._lock:
                status, payload = 200, route[1](self, query, call.body)
        except ApiError as e:
            call.status = e.status
            body = json.dumps({"error_code": e.error_code, "message": e.message}).encode()
            return e.status, body, "application/json", e.headers
        call.status = status
        return status, json.dumps(payload).encode(), "application/json", {}

    # --- OAuth machine-to-machine (no bearer token needed: these are how one gets it) -------------------------

    def _host_metadata(self, method: str, *_: Any) -> tuple[int, dict]:
        if method != "GET":
            raise ApiError(405, "METHOD_NOT_ALLOWED", "GET only")
        return 200, {"oidc_endpoint": f"{self.url}/oidc", "workspace_id": "1234567890", "cloud": "aws"}

    def _oidc_discovery(self, method: str, *_: Any) -> tuple[int, dict]:
        if method != "GET":
            raise ApiError(405, "METHOD_NOT_ALLOWED", "GET only")
        return 200, {
            "issuer": f"{self.url}/oidc",
            "authorization_endpoint": f"{self.url}/oidc/v1/authorize",
            "token_endpoint": f"{self.url}/oidc/v1/token",
        }

    def _token(self, method: str, headers: Any, raw_body: bytes) -> tuple[int, dict]:
        if method != "POST":
            raise ApiError(405, "METHOD_NOT_ALLOWED", "POST only")
        if not headers.get("Content-Type", "").startswith("application/x-www-form-urlencoded"):
            raise ApiError(400, "invalid_request", "expected a form body")
        form = dict(parse_qsl(raw_body.decode()))
        if form.get("grant_type") != "client_credentials" or form.get("scope") != "all-apis":
            raise ApiError(400, "invalid_request", f"grant_type/scope: {form}")
        expected = base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
        if not self.client_id or headers.get("Authorization") != f"Basic {expected}":
            raise ApiError(401, "invalid_client", "Client authentication failed")
        token = f"oauth-{self._new_id()}"
        self._oauth_tokens.add(token)
        return 200, {"access_token": token, "token_type": "Bearer", "expires_in": 3600, "scope": "all-apis"}

    # --- the Jobs API ----------------------------------------------------------------------------------------

    def _new_id(self) -> int:
        self._next_id += 1
        return self._next_id

    def _continuous(self, job_id: int) -> bool:
        return (
            self.jobs[job_id].get("continuous", {}).get("pause_status", "UNPAUSED") == "UNPAUSED"
            and "continuous" in self.jobs[job_id]
        )

    def _start_run(self, job_id: int, state: str = "PENDING") -> int:
        run_id = self._new_id()
        self.runs[run_id] = {
            "run_id": run_id,
            "job_id": job_id,
            "state": state,
            "polls": 0,
            "message": "",
            "start_time": int(time.time() * 1000),
            "settings": copy.deepcopy(self.jobs[job_id]),
        }
        if state == "RUNNING":
            self.on_running(self.runs[run_id])
        return run_id

    def _end_run(self, run: dict, state: str, result: str, message: str = "") -> None:
        run.update(state=state, result=result, message=message, end_time=int(time.time() * 1000))

    def _scheduler(self, job_id: int) -> None:
        """The continuous scheduler: an unpaused continuous job always has one run."""
        if self.auto_start_continuous and self._continuous(job_id) and not self.active_runs(job_id):
            self._start_run(job_id)

    def _job(self, body: dict, key: str = "job_id") -> int:
        job_id = _typed(body.get(key), int, key)
        if job_id not in self.jobs:
            raise ApiError(400, "INVALID_PARAMETER_VALUE", f"Job {job_id} does not exist.")
        return job_id

    def _query_id(self, query: dict, key: str) -> int:
        try:
            return int(query[key])
        except (KeyError, ValueError) as e:
            raise _bad(f"{key}: required integer") from e

    def _get(self, query: dict, _: Any) -> dict:
        _obj(query, "query", frozenset({"job_id", "page_token"}), ("job_id",))
        job_id = self._job({"job_id": self._query_id(query, "job_id")})
        return {"job_id": job_id, "settings": copy.deepcopy(self.jobs[job_id]), "created_time": 1700000000000}

    def _run_get(self, query: dict, _: Any) -> dict:
        _obj(
            query,
            "query",
            frozenset({"run_id", "include_history", "include_resolved_values", "page_token"}),
            ("run_id",),
        )
        run = self.runs.get(self._query_id(query, "run_id"))
        if run is None:
            raise ApiError(400, "INVALID_PARAMETER_VALUE", f"Run {query['run_id']} does not exist.")
        if run["state"] in ("PENDING", "QUEUED"):
            run["polls"] += 1
            if run["polls"] > self.pending_polls and self.run_outcome != "PENDING":
                if self.run_outcome == "RUNNING":
                    run["state"], run["polls"] = "RUNNING", 0
                    self.on_running(run)
                else:
                    self._end_run(run, self.run_outcome, "FAILED", self.run_failure_message)
        elif run["state"] == "RUNNING" and self.run_lifetime_polls is not None:
            run["polls"] += 1
            if run["polls"] > self.run_lifetime_polls:
                self._end_run(run, "TERMINATED", "FAILED", self.run_end_message)
        state = {"life_cycle_state": run["state"], "state_message": run["message"]}
        if run["state"] in ENDED:
            state["result_state"] = run.get("result", "FAILED")
        reply = {
            "run_id": run["run_id"],
            "job_id": run["job_id"],
            "state": state,
            "start_time": run["start_time"],
            "run_page_url": f"{self.url}/#job/{run['job_id']}/run/{run['run_id']}",
            "tasks": [
                {"task_key": t["task_key"], "run_id": run["run_id"] + 1, **{"new_cluster": t["new_cluster"]}}
                for t in run["settings"].get("tasks", [])
                if "new_cluster" in t
            ],
        }
        if "end_time" in run:
            reply["end_time"] = run["end_time"]
        return reply

    def _list(self, query: dict, _: Any) -> dict:
        _obj(query, "query", frozenset({"limit", "name", "page_token", "expand_tasks", "offset"}))
        limit = _int_param(query, "limit", 20, 100)
        name = query.get("name") if self.honour_name_filter else None
        jobs = sorted(j for j, s in self.jobs.items() if name is None or s["name"].lower() == name.lower())
        start = _page_token(query)
        size = min(limit, self.page_size)
        page = [
            {
                "job_id": j,
                "settings": {k: v for k, v in self.jobs[j].items() if k not in ("tasks", "job_clusters")},
                "created_time": 1700000000000 + j,
            }
            for j in jobs[start : start + size]
        ]
        return _page({"jobs": page} if page else {}, start + size, len(jobs))

    def _runs_list(self, query: dict, _: Any) -> dict:
        _obj(
            query,
            "query",
            frozenset(
                {
                    "job_id",
                    "active_only",
                    "completed_only",
                    "limit",
                    "page_token",
                    "offset",
                    "run_type",
                    "expand_tasks",
                    "start_time_from",
                    "start_time_to",
                }
            ),
        )
        if query.get("active_only") == "true" and query.get("completed_only") == "true":
            raise _bad("active_only and completed_only are mutually exclusive")
        limit = _int_param(query, "limit", 25, 25)
        runs = sorted(self.runs.values(), key=lambda r: -r["run_id"])
        if "job_id" in query:
            runs = [r for r in runs if str(r["job_id"]) == query["job_id"]]
        if query.get("active_only") == "true":
            runs = [r for r in runs if r["state"] in ACTIVE_STATES]
        start = _page_token(query)
        page = [
            {"run_id": r["run_id"], "job_id": r["job_id"], "state": {"life_cycle_state": r["state"]}}
            for r in runs[start : start + min(limit, self.page_size)]
        ]
        return _page({"runs": page} if page else {}, start + min(limit, self.page_size), len(runs))

    def _create(self, _: dict, body: dict) -> dict:
        acl = body.pop("access_control_list", None)
        settings = copy.deepcopy(validate_settings(body, "settings"))
        owners = validate_acl(acl) if acl is not None else None
        self.before_create()
        job_id = self._new_id()
        self.jobs[job_id] = settings
        if owners is not None:
            self.permissions[job_id] = owners
        self._scheduler(job_id)
        return {"job_id": job_id}

    def _reset(self, _: dict, body: dict) -> dict:
        job_id = self._job(body)
        self.jobs[job_id] = copy.deepcopy(validate_settings(body["new_settings"], "new_settings"))
        self._scheduler(job_id)
        return {}

    def _update(self, _: dict, body: dict) -> dict:
        job_id = self._job(body)
        merged = {k: v for k, v in self.jobs[job_id].items() if k not in body.get("fields_to_remove", [])}
        merged |= copy.deepcopy(body.get("new_settings", {}))
        self.jobs[job_id] = validate_settings(merged, "new_settings")
        self._scheduler(job_id)
        return {}

    def _delete(self, _: dict, body: dict) -> dict:
        job_id = self._job(body)
        for run in self.active_runs(job_id):
            self._end_run(run, "TERMINATED", "CANCELED")
        del self.jobs[job_id]
        self.permissions.pop(job_id, None)
        return {}

    def _set_permissions(self, query: dict, body: dict) -> dict:
        job_id = self._job({"job_id": self._query_id(query, "job_id")})
        self.permissions[job_id] = validate_acl(body["access_control_list"])
        return {
            "object_id": f"/jobs/{job_id}",
            "object_type": "job",
            "access_control_list": [
                {**a, "all_permissions": [{"permission_level": a["permission_level"]}]}
                for a in self.permissions[job_id]
            ],
        }

    def _cancel(self, _: dict, body: dict) -> dict:
        run = self.runs.get(body["run_id"])
        if run is None:
            raise _bad(f"Run {body['run_id']} does not exist.")
        if run["state"] in ACTIVE_STATES:
            self._end_run(run, "TERMINATED", "CANCELED")
            self._scheduler(run["job_id"])
        return {}

    def _run_now(self, _: dict, body: dict) -> dict:
        job_id = self._job(body)
        token = body.get("idempotency_token")
        if token is not None and len(token) > 64:
            raise _bad("idempotency_token: at most 64 characters")
        if token in self._tokens:
            return {"run_id": self._tokens[token]}
        old = self.active_runs(job_id)
        state = "PENDING"
        if self._continuous(job_id):  # an unpaused continuous job: its run is replaced, never joined by a second
            for run in old:
                self._end_run(run, "TERMINATED", "CANCELED", "Cancelled by run-now: restarted with new settings")
        elif len(old) >= self.jobs[job_id].get("max_concurrent_runs", 1):
            state = "QUEUED"
        run_id = self._start_run(job_id, state)
        self.restarts += [(r["run_id"], run_id) for r in old if self._continuous(job_id)]
        if token is not None:
            self._tokens[token] = run_id
        return {"run_id": run_id, "number_in_job": run_id}


def _int_param(query: dict, name: str, default: int, maximum: int) -> int:
    try:
        value = int(query.get(name, default))
    except ValueError as e:
        raise _bad(f"{name}: expected an integer") from e
    if not 0 < value <= maximum:
        raise _bad(f"{name}: must be in 1..{maximum}")
    return value


def _page_token(query: dict) -> int:
    token = query.get("page_token")
    if token is None:
        return 0
    try:
        return int(base64.urlsafe_b64decode(token.encode()).decode().removeprefix("offset:"))
    except ValueError as e:
        raise _bad("page_token: invalid") from e


def _page(payload: dict, end: int, total: int) -> dict:
    payload["has_more"] = end < total
    if end < total:
        payload["next_page_token"] = base64.urlsafe_b64encode(f"offset:{end}".encode()).decode()
    return payload


_ROUTES = {
    "jobs/list": ("GET", FakeJobsApi._list),
    "jobs/get": ("GET", FakeJobsApi._get),
    "jobs/runs/list": ("GET", FakeJobsApi._runs_list),
    "jobs/runs/get": ("GET", FakeJobsApi._run_get),
    "jobs/create": ("POST", FakeJobsApi._create),
    "jobs/reset": ("POST", FakeJobsApi._reset),
    "jobs/update": ("POST", FakeJobsApi._update),
    "jobs/delete": ("POST", FakeJobsApi._delete),
    "jobs/runs/cancel": ("POST", FakeJobsApi._cancel),
    "jobs/run-now": ("POST", FakeJobsApi._run_now),
    "permissions/jobs/{job_id}": ("PUT", FakeJobsApi._set_permissions),
}
_PUBLIC = {
    "/.well-known/databricks-config": FakeJobsApi._host_metadata,
    "/oidc/.well-known/oauth-authorization-server": FakeJobsApi._oidc_discovery,
    "/oidc/v1/token": FakeJobsApi._token,
}


def _handler(api: FakeJobsApi) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            status, data, content_type, headers = api.handle(
                self.command, self.path, self.headers, self.rfile.read(length)
            )
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            for k, v in headers.items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

        def log_message(self, *args: Any) -> None:  # keep pytest output clean
            pass

    return Handler
