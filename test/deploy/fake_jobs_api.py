"""A strict in-memory fake of the Databricks Jobs API 2.2 (and the job permissions and OAuth endpoints the deploy
uses), served over HTTP on 127.0.0.1, for deploy-job.sh tests: the one part of the deploy that cannot run here.

Strict means it rejects what the real API would: a missing or wrong bearer token (401), unknown paths (404) and
methods (405), unknown keys, wrong types and missing required fields in request bodies (400). It keeps jobs, runs
and permissions, paginates (page size configurable), emulates the continuous-job scheduler and a run's life cycle
(PENDING, then RUNNING or a failure), serves OAuth machine-to-machine tokens for one service principal, can be told
to fail or to answer with an HTML page, and records every call.
"""

from __future__ import annotations

import base64
import copy
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

PREFIX = "/api/2.2/"
PERMISSIONS_PREFIX = "/api/2.0/permissions/jobs/"
ACTIVE_STATES = frozenset({"QUEUED", "PENDING", "RUNNING", "TERMINATING", "BLOCKED", "WAITING_FOR_RETRY"})
DATA_SECURITY_MODES = frozenset({"NONE", "SINGLE_USER", "USER_ISOLATION", "DATA_SECURITY_MODE_AUTO",
                                 "DATA_SECURITY_MODE_STANDARD", "DATA_SECURITY_MODE_DEDICATED", "LEGACY_TABLE_ACL",
                                 "LEGACY_PASSTHROUGH", "LEGACY_SINGLE_USER", "LEGACY_SINGLE_USER_STANDARD"})
PERMISSION_LEVELS = frozenset({"CAN_VIEW", "CAN_MANAGE_RUN", "CAN_MANAGE", "IS_OWNER"})

# Top-level fields of JobSettings in API 2.2 (databricks-sdk 0.162 jobs.JobSettings).
JOB_SETTINGS_KEYS = frozenset({
    "budget_policy_id", "continuous", "deployment", "description", "edit_mode", "email_notifications",
    "environments", "format", "git_source", "health", "job_clusters", "max_concurrent_runs", "name",
    "notification_settings", "parameters", "performance_target", "queue", "run_as", "schedule", "tags", "tasks",
    "timeout_seconds", "trigger", "usage_policy_id", "webhook_notifications",
})
TASK_KEYS = frozenset({
    "task_key", "description", "depends_on", "spark_python_task", "notebook_task", "python_wheel_task",
    "spark_jar_task", "spark_submit_task", "new_cluster", "job_cluster_key", "existing_cluster_id", "libraries",
    "max_retries", "min_retry_interval_millis", "retry_on_timeout", "timeout_seconds", "email_notifications",
    "notification_settings", "health", "run_if", "disabled",
})
TASK_TYPES = ("spark_python_task", "notebook_task", "python_wheel_task", "spark_jar_task", "spark_submit_task")
CLUSTER_KEYS = frozenset({
    "spark_version", "node_type_id", "driver_node_type_id", "num_workers", "autoscale", "aws_attributes",
    "docker_image", "spark_conf", "spark_env_vars", "custom_tags", "init_scripts", "cluster_log_conf",
    "enable_elastic_disk", "policy_id", "instance_pool_id", "driver_instance_pool_id", "data_security_mode",
    "runtime_engine", "ssh_public_keys", "single_user_name", "apply_policy_default_values",
})
AWS_KEYS = frozenset({
    "availability", "first_on_demand", "instance_profile_arn", "spot_bid_price_percent", "zone_id",
    "ebs_volume_count", "ebs_volume_size", "ebs_volume_type", "ebs_volume_iops", "ebs_volume_throughput",
})
S3_KEYS = frozenset({"destination", "region", "endpoint", "enable_encryption", "encryption_type", "kms_key",
                     "canned_acl"})
RUN_NOW_KEYS = frozenset({
    "job_id", "idempotency_token", "job_parameters", "jar_params", "notebook_params", "python_params",
    "python_named_params", "spark_submit_params", "sql_params", "dbt_commands", "pipeline_params", "queue",
    "only", "performance_target",
})


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


def _strings(value: Any, where: str) -> None:
    for k, v in _obj(value, where).items():
        _typed(v, str, f"{where}.{k}")


def _s3(value: Any, where: str) -> None:
    s3 = _obj(_obj(value, where, frozenset({"s3"}), ("s3",))["s3"], f"{where}.s3", S3_KEYS, ("destination",))
    if not _typed(s3["destination"], str, f"{where}.s3.destination").startswith("s3://"):
        raise _bad(f"{where}.s3.destination: expected s3://")


def _log_conf(value: Any, where: str) -> None:
    kind = set(_obj(value, where, frozenset({"s3", "volumes", "dbfs"})))
    if len(kind) != 1:
        raise _bad(f"{where}: set exactly one of s3, volumes, dbfs")
    if "s3" in kind:
        _s3(value, where)
    else:
        dest = _obj(value[kind.pop()], where, frozenset({"destination"}), ("destination",))["destination"]
        _typed(dest, str, f"{where}.destination")


def validate_cluster(c: Any, where: str) -> None:
    _obj(c, where, CLUSTER_KEYS, ("spark_version",))
    _typed(c["spark_version"], str, f"{where}.spark_version")
    if ("num_workers" in c) == ("autoscale" in c):
        raise _bad(f"{where}: set exactly one of num_workers and autoscale")
    if "autoscale" in c:
        a = _obj(c["autoscale"], f"{where}.autoscale", frozenset({"min_workers", "max_workers"}),
                 ("min_workers", "max_workers"))
        if _typed(a["min_workers"], int, "min_workers") > _typed(a["max_workers"], int, "max_workers"):
            raise _bad(f"{where}.autoscale: min_workers > max_workers")
    else:
        _typed(c["num_workers"], int, f"{where}.num_workers")
    for key in ("spark_conf", "spark_env_vars", "custom_tags"):
        if key in c:
            _strings(c[key], f"{where}.{key}")
    if "docker_image" in c:
        d = _obj(c["docker_image"], f"{where}.docker_image", frozenset({"url", "basic_auth"}), ("url",))
        _typed(d["url"], str, f"{where}.docker_image.url")
        if "basic_auth" in d:
            _strings(_obj(d["basic_auth"], "basic_auth", frozenset({"username", "password"}),
                          ("username", "password")), "basic_auth")
    if "aws_attributes" in c:
        aws = _obj(c["aws_attributes"], f"{where}.aws_attributes", AWS_KEYS)
        if aws.get("availability", "SPOT") not in {"SPOT", "ON_DEMAND", "SPOT_WITH_FALLBACK"}:
            raise _bad(f"{where}.aws_attributes.availability: {aws['availability']!r}")
        for key in ("first_on_demand", "spot_bid_price_percent"):
            if key in aws:
                _typed(aws[key], int, f"{where}.aws_attributes.{key}")
    for i, script in enumerate(_typed(c.get("init_scripts", []), list, f"{where}.init_scripts")):
        _s3(script, f"{where}.init_scripts[{i}]")
    if "cluster_log_conf" in c:
        _log_conf(c["cluster_log_conf"], f"{where}.cluster_log_conf")
    if c.get("data_security_mode", "NONE") not in DATA_SECURITY_MODES:
        raise _bad(f"{where}.data_security_mode: {c['data_security_mode']!r}")
    if "single_user_name" in c:
        _typed(c["single_user_name"], str, f"{where}.single_user_name")


def validate_settings(s: Any, where: str) -> dict:
    _obj(s, where, JOB_SETTINGS_KEYS, ("name", "tasks"))
    if not _typed(s["name"], str, f"{where}.name"):
        raise _bad(f"{where}.name: must not be empty")
    tasks = _typed(s["tasks"], list, f"{where}.tasks")
    if not tasks:
        raise _bad(f"{where}.tasks: must not be empty")
    for i, t in enumerate(tasks):
        w = f"{where}.tasks[{i}]"
        _obj(t, w, TASK_KEYS, ("task_key",))
        if sum(k in t for k in TASK_TYPES) != 1:
            raise _bad(f"{w}: set exactly one task type")
        if "spark_python_task" in t:
            p = _obj(t["spark_python_task"], f"{w}.spark_python_task", frozenset({"python_file", "parameters",
                     "source"}), ("python_file",))
            _typed(p["python_file"], str, "python_file")
            for arg in _typed(p.get("parameters", []), list, "parameters"):
                _typed(arg, str, "parameters[]")
        if "new_cluster" in t:
            validate_cluster(t["new_cluster"], f"{w}.new_cluster")
        if "continuous" in s and "max_retries" in t:
            raise _bad(f"{w}.max_retries: retry policies cannot be used with a continuous job")
    if "continuous" in s:
        cont = _obj(s["continuous"], f"{where}.continuous", frozenset({"pause_status", "task_retry_mode"}))
        if cont.get("pause_status", "UNPAUSED") not in {"PAUSED", "UNPAUSED"}:
            raise _bad(f"{where}.continuous.pause_status: {cont['pause_status']!r}")
        if cont.get("task_retry_mode", "NEVER") not in {"NEVER", "ON_FAILURE"}:
            raise _bad(f"{where}.continuous.task_retry_mode: {cont['task_retry_mode']!r}")
        if "schedule" in s or "trigger" in s:
            raise _bad(f"{where}: continuous cannot be combined with schedule or trigger")
    if "max_concurrent_runs" in s:
        _typed(s["max_concurrent_runs"], int, f"{where}.max_concurrent_runs")
    for key in ("tags",):
        if key in s:
            _strings(s[key], f"{where}.{key}")
    if "run_as" in s:
        run_as = _obj(s["run_as"], f"{where}.run_as", frozenset({"user_name", "service_principal_name",
                                                                  "group_name"}))
        if len(run_as) != 1:
            raise _bad(f"{where}.run_as: set exactly one identity")
    return s


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

    def __init__(self, token: str, page_size: int = 100, auto_start_continuous: bool = True,
                 client_id: str = "", client_secret: str = ""):
        self.token, self.page_size, self.auto_start_continuous = token, page_size, auto_start_continuous
        self.client_id, self.client_secret = client_id, client_secret
        self.jobs: dict[int, dict] = {}
        self.runs: dict[int, dict] = {}
        self.permissions: dict[int, list[dict]] = {}
        self.calls: list[Call] = []
        self.run_now_conflicts = 0  # answer the next n run-now calls with 409 (the scheduler won the race)
        self.honour_name_filter = True  # False: jobs/list ignores `name`, as API 2.0 did
        # A new run is PENDING for `pending_polls` runs/get calls, then becomes `run_outcome`: "RUNNING", or a
        # terminal life cycle state (with `run_failure_message`), or "PENDING" to stay pending for ever.
        self.pending_polls = 1
        self.run_outcome = "RUNNING"
        self.run_failure_message = ""
        self._failures: list[_Failure] = []
        self._tokens: dict[str, int] = {}
        self._oauth_tokens: set[str] = set()
        self._next_id = 1000
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), name="fake-jobs-api",
                                        daemon=True)

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

    def fail(self, status: int, times: int = 1, path: str | None = None, retry_after: int | None = None,
             html: bool = False) -> None:
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
        path = "permissions/jobs/" + path.removeprefix(PERMISSIONS_PREFIX) if path.startswith(PERMISSIONS_PREFIX) \
            else path
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
                    raise ApiError(f.status, "TEMPORARILY_UNAVAILABLE" if f.status != 429 else
                                   "REQUEST_LIMIT_EXCEEDED", f"injected HTTP {f.status}", f.headers)
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
                _obj(call.body, "body")
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
        return 200, {"issuer": f"{self.url}/oidc", "authorization_endpoint": f"{self.url}/oidc/v1/authorize",
                     "token_endpoint": f"{self.url}/oidc/v1/token"}

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
        return self.jobs[job_id].get("continuous", {}).get("pause_status", "UNPAUSED") == "UNPAUSED" and \
            "continuous" in self.jobs[job_id]

    def _start_run(self, job_id: int, state: str = "PENDING") -> int:
        run_id = self._new_id()
        self.runs[run_id] = {"run_id": run_id, "job_id": job_id, "state": state, "polls": 0, "message": "",
                             "settings": copy.deepcopy(self.jobs[job_id])}
        return run_id

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
        _obj(query, "query", frozenset({"run_id", "include_history", "include_resolved_values", "page_token"}),
             ("run_id",))
        run = self.runs.get(self._query_id(query, "run_id"))
        if run is None:
            raise ApiError(400, "INVALID_PARAMETER_VALUE", f"Run {query['run_id']} does not exist.")
        if run["state"] in ("PENDING", "QUEUED"):
            run["polls"] += 1
            if run["polls"] > self.pending_polls and self.run_outcome != "PENDING":
                run["state"], run["message"] = self.run_outcome, self.run_failure_message
        state = {"life_cycle_state": run["state"], "state_message": run["message"]}
        if run["state"] in ("TERMINATED", "INTERNAL_ERROR", "SKIPPED"):
            state["result_state"] = "CANCELED" if run.get("cancelled") else "FAILED"
        return {"run_id": run["run_id"], "job_id": run["job_id"], "state": state,
                "run_page_url": f"{self.url}/#job/{run['job_id']}/run/{run['run_id']}"}

    def _list(self, query: dict, _: Any) -> dict:
        _obj(query, "query", frozenset({"limit", "name", "page_token", "expand_tasks", "offset"}))
        limit = _int_param(query, "limit", 20, 100)
        name = query.get("name") if self.honour_name_filter else None
        jobs = sorted(j for j, s in self.jobs.items() if name is None or s["name"].lower() == name.lower())
        start = _page_token(query)
        size = min(limit, self.page_size)
        page = [{"job_id": j, "settings": {k: v for k, v in self.jobs[j].items() if k not in ("tasks", "job_clusters")},
                 "created_time": 1700000000000 + j} for j in jobs[start:start + size]]
        return _page({"jobs": page} if page else {}, start + size, len(jobs))

    def _runs_list(self, query: dict, _: Any) -> dict:
        _obj(query, "query", frozenset({"job_id", "active_only", "completed_only", "limit", "page_token", "offset",
                                        "run_type", "expand_tasks", "start_time_from", "start_time_to"}))
        if query.get("active_only") == "true" and query.get("completed_only") == "true":
            raise _bad("active_only and completed_only are mutually exclusive")
        limit = _int_param(query, "limit", 25, 25)
        runs = sorted(self.runs.values(), key=lambda r: -r["run_id"])
        if "job_id" in query:
            runs = [r for r in runs if str(r["job_id"]) == query["job_id"]]
        if query.get("active_only") == "true":
            runs = [r for r in runs if r["state"] in ACTIVE_STATES]
        start = _page_token(query)
        page = [{"run_id": r["run_id"], "job_id": r["job_id"], "state": {"life_cycle_state": r["state"]}}
                for r in runs[start:start + min(limit, self.page_size)]]
        return _page({"runs": page} if page else {}, start + min(limit, self.page_size), len(runs))

    def _create(self, _: dict, body: dict) -> dict:
        acl = body.pop("access_control_list", None)
        job_id = self._new_id()
        self.jobs[job_id] = copy.deepcopy(validate_settings(body, "settings"))
        if acl is not None:
            self.permissions[job_id] = _acl(acl)
        self._scheduler(job_id)
        return {"job_id": job_id}

    def _reset(self, _: dict, body: dict) -> dict:
        _obj(body, "body", frozenset({"job_id", "new_settings"}), ("job_id", "new_settings"))
        job_id = self._job(body)
        self.jobs[job_id] = copy.deepcopy(validate_settings(body["new_settings"], "new_settings"))
        self._scheduler(job_id)
        return {}

    def _set_permissions(self, query: dict, body: dict) -> dict:
        _obj(body, "body", frozenset({"access_control_list"}), ("access_control_list",))
        job_id = self._job({"job_id": self._query_id(query, "job_id")})
        self.permissions[job_id] = _acl(body["access_control_list"])
        return {"object_id": f"/jobs/{job_id}", "object_type": "job",
                "access_control_list": [{**a, "all_permissions": [{"permission_level": a["permission_level"]}]}
                                        for a in self.permissions[job_id]]}

    def _cancel(self, _: dict, body: dict) -> dict:
        _obj(body, "body", frozenset({"run_id"}), ("run_id",))
        run = self.runs.get(_typed(body["run_id"], int, "run_id"))
        if run is None:
            raise _bad(f"Run {body['run_id']} does not exist.")
        if run["state"] in ACTIVE_STATES:
            run["state"], run["cancelled"] = "TERMINATED", True
            self._scheduler(run["job_id"])
        return {}

    def _run_now(self, _: dict, body: dict) -> dict:
        _obj(body, "body", RUN_NOW_KEYS, ("job_id",))
        job_id = self._job(body)
        token = body.get("idempotency_token")
        if token is not None and len(_typed(token, str, "idempotency_token")) > 64:
            raise _bad("idempotency_token: at most 64 characters")
        if token in self._tokens:
            return {"run_id": self._tokens[token]}
        if self.run_now_conflicts > 0 or (self._continuous(job_id) and self.active_runs(job_id)):
            self.run_now_conflicts = max(0, self.run_now_conflicts - 1)
            raise ApiError(409, "RESOURCE_CONFLICT", "A concurrent request to trigger this job is in progress.")
        state = "PENDING"
        if len(self.active_runs(job_id)) >= self.jobs[job_id].get("max_concurrent_runs", 1):
            state = "QUEUED"
        run_id = self._start_run(job_id, state)
        if token is not None:
            self._tokens[token] = run_id
        return {"run_id": run_id, "number_in_job": run_id}


def _acl(acl: Any) -> list[dict]:
    for i, a in enumerate(_typed(acl, list, "access_control_list")):
        _obj(a, f"access_control_list[{i}]", frozenset({"group_name", "user_name", "service_principal_name",
                                                        "permission_level"}), ("permission_level",))
        if len(a) != 2 or a["permission_level"] not in PERMISSION_LEVELS:
            raise _bad(f"access_control_list[{i}]: one principal and a permission level, got {a}")
    return copy.deepcopy(acl)


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
            status, data, content_type, headers = api.handle(self.command, self.path, self.headers,
                                                             self.rfile.read(length))
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
