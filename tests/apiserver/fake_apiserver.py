#!/usr/bin/python3
"""A test-only Kubernetes API server (never shipped): just the behaviour evictd relies on, faithful to the
documented API, and checked against the real kubectl by the tests.

- HTTPS with the test CA; bearer tokens or client certificates (O=system:nodes); 401/403 with Status bodies.
- Discovery (/api, /apis, /api/v1, /apis/policy/v1) so kubectl works.
- Pods: LIST (fieldSelector spec.nodeName, labelSelector-free), GET, server-side Table printing (STATUS is
  status.reason when set, else phase), WATCH streaming with BOOKMARK events, 410 Gone for resourceVersions
  older than the compaction point.
- PATCH pods/status with application/strategic-merge-patch+json: maps merge, status.conditions merge by
  type; application/merge-patch+json too.
- POST pods/eviction (policy/v1 Eviction) against a PodDisruptionBudget model: 429 TooManyRequests when a
  budget allows no disruption, 500 when several budgets match, 404 for a missing pod; budgets are not
  consulted for pods that are Pending, Succeeded, Failed or already terminating. 201 sets the DisruptionTarget
  condition (EvictionByEvictionAPI) and deletes gracefully: a pod bound to a node keeps existing with
  deletionTimestamp and deletionGracePeriodSeconds (kubectl shows Terminating) until its kubelet's final
  delete (the /_test/pods DELETE control here); a grace period of 0 or an unbound pod goes at once.
- DELETE pods with DeleteOptions (UID precondition; graceful for a bound, non-terminal pod, at once otherwise).
- POST/GET events.
- Test controls under /_test/ (no authentication): add pods and PDBs, inject faults (status codes, delays,
  dropped connections), compact resourceVersions, cut watches, read what was written.

Usage: fake_apiserver.py --port P --certs DIR [--token T]...   (prints "listening <port>" when ready)
"""

import argparse
import copy
import datetime
import json
import re
import socket
import ssl
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOCK = threading.Condition()
STATE = {
    "rv": 100,
    "compacted_rv": 0,          # watches from older resourceVersions get 410 Gone
    "pods": {},                 # (ns, name) -> pod
    "nodes": {},                # name -> node
    "pdbs": [],                 # {"namespace","name","selector":{labels},"disruptionsAllowed":int}
    "events": [],
    "history": [],              # (rv, type, pod) for watches
    "faults": [],               # {"path": regex, "method": str|None, "status": int, "count": n, "delay": s, "drop": bool, "retry_after": s}
    "requests": [],             # (method, path, auth) log
    "watch_generation": 0,      # bumped to cut every open watch
}
TOKENS = set()
# Seconds between BOOKMARK events on a quiet watch. kube-apiserver sends one about every minute;
# the tests use 1 s so that a bookmark shows up quickly, benchmarks pass --bookmark-interval 60.
BOOKMARK_INTERVAL = [1.0]


def now_rfc3339(seconds_from_now=0):
    return (datetime.datetime.now(datetime.timezone.utc) +
            datetime.timedelta(seconds=seconds_from_now)).strftime("%Y-%m-%dT%H:%M:%SZ")


def status_body(code, reason, message, details=None):
    body = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": reason, "code": code}
    if details:
        body["details"] = details
    return body


def as_object(pod):
    """A single Pod as the server returns it from GET, PATCH and watch events: with kind and apiVersion."""
    result = copy.deepcopy(pod)
    result["kind"] = "Pod"
    result["apiVersion"] = "v1"
    return result


def next_rv():
    STATE["rv"] += 1
    return STATE["rv"]


def record(event_type, pod):
    rv = next_rv()
    pod["metadata"]["resourceVersion"] = str(rv)
    STATE["history"].append((rv, event_type, as_object(pod)))
    LOCK.notify_all()


def strategic_merge(target, patch, path=""):
    """Strategic merge patch for the fields evictd patches: maps merge, null deletes, lists replace except
    status.conditions (merge key: type)."""
    for key, value in patch.items():
        here = path + "." + key if path else key
        if value is None:
            target.pop(key, None)
        elif here == "status.conditions" and isinstance(value, list):
            current = target.setdefault(key, [])
            for condition in value:
                existing = next((c for c in current if c.get("type") == condition.get("type")), None)
                if existing is None:
                    current.append(condition)
                else:
                    existing.update(condition)
        elif isinstance(value, dict) and isinstance(target.get(key), dict):
            strategic_merge(target[key], value, here)
        else:
            target[key] = value


def pod_table(pods, rv):
    rows = []
    for pod in pods:
        status = pod.get("status", {})
        containers = pod.get("spec", {}).get("containers", [])
        ready = sum(1 for s in status.get("containerStatuses", []) if s.get("ready"))
        rows.append({"cells": [pod["metadata"]["name"], "%d/%d" % (ready, len(containers)),
                               "Terminating" if pod["metadata"].get("deletionTimestamp")
                               else status.get("reason") or status.get("phase", "Pending"), 0, "1m"],
                     "object": {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                                "metadata": pod["metadata"]}})
    columns = [{"name": n, "type": t, "format": f, "description": n, "priority": 0}
               for n, t, f in (("Name", "string", "name"), ("Ready", "string", ""), ("Status", "string", ""),
                               ("Restarts", "string", ""), ("Age", "string", ""))]
    return {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": {"resourceVersion": str(rv)},
            "columnDefinitions": columns, "rows": rows}


API_RESOURCES = {
    "kind": "APIResourceList", "apiVersion": "v1", "groupVersion": "v1",
    "resources": [
        {"name": "pods", "singularName": "pod", "namespaced": True, "kind": "Pod",
         "verbs": ["create", "delete", "get", "list", "patch", "update", "watch"], "shortNames": ["po"]},
        {"name": "pods/status", "singularName": "", "namespaced": True, "kind": "Pod",
         "verbs": ["get", "patch", "update"]},
        {"name": "pods/eviction", "singularName": "", "namespaced": True, "group": "policy",
         "version": "v1", "kind": "Eviction", "verbs": ["create"]},
        {"name": "events", "singularName": "event", "namespaced": True, "kind": "Event",
         "verbs": ["create", "get", "list"], "shortNames": ["ev"]},
        {"name": "nodes", "singularName": "node", "namespaced": False, "kind": "Node",
         "verbs": ["get", "list", "patch"], "shortNames": ["no"]},
    ],
}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # quiet
        pass

    def setup(self):
        super().setup()
        # Headers and body go out in separate writes: without this, Nagle + delayed ACK add ~40 ms.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    # --- plumbing

    def send_json(self, code, body, headers=None):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def read_body(self):
        return json.loads(self.body or b"{}") if self.body else {}

    def authenticate(self):
        auth = self.headers.get("Authorization", "")
        if auth.startswith("Bearer ") and auth[7:] in TOKENS:
            return "token"
        cert = self.connection.getpeercert() if hasattr(self.connection, "getpeercert") else None
        if cert:
            subject = dict(x[0] for x in cert.get("subject", ()))
            if subject.get("organizationName") == "system:nodes":
                return "cert:" + subject.get("commonName", "")
        return None

    def inject_fault(self, method, path):
        with LOCK:
            for fault in STATE["faults"]:
                if fault["count"] == 0 or not re.search(fault["path"], path):
                    continue
                if fault.get("method") and fault["method"] != method:
                    continue
                fault["count"] -= 1
                break
            else:
                return False
        if fault.get("delay"):
            time.sleep(fault["delay"])
        if fault.get("drop"):
            self.close_connection = True
            self.connection.close()
            return True
        if fault.get("status"):
            headers = {"Retry-After": str(fault["retry_after"])} if fault.get("retry_after") else {}
            self.send_json(fault["status"], status_body(fault["status"], "InternalError" if fault["status"] >= 500
                                                         else "TooManyRequests", "injected fault"), headers)
            return True
        return False

    # --- verbs

    def do_GET(self):
        self.route("GET")

    def do_POST(self):
        self.route("POST")

    def do_PATCH(self):
        self.route("PATCH")

    def do_DELETE(self):
        self.route("DELETE")

    def route(self, method):
        # Read the body first, whatever happens next: an unread body would corrupt the kept-alive
        # connection's next request.
        length = int(self.headers.get("Content-Length") or 0)
        self.body = self.rfile.read(length) if length else b""
        url = urllib.parse.urlsplit(self.path)
        path = url.path
        query = dict(urllib.parse.parse_qsl(url.query))
        if path.startswith("/_test/"):
            return self.test_control(method, path, query)
        with LOCK:
            STATE["requests"].append((method, path + ("?" + url.query if url.query else ""),
                                      self.headers.get("Content-Type", "")))
        if self.inject_fault(method, path):
            return
        who = self.authenticate()
        if who is None:
            return self.send_json(401, status_body(401, "Unauthorized", "Unauthorized"))
        if path == "/api":
            return self.send_json(200, {"kind": "APIVersions", "versions": ["v1"],
                                        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0",
                                                                        "serverAddress": "127.0.0.1"}]})
        if path == "/apis":
            return self.send_json(200, {"kind": "APIGroupList", "apiVersion": "v1", "groups": [
                {"name": "policy", "versions": [{"groupVersion": "policy/v1", "version": "v1"}],
                 "preferredVersion": {"groupVersion": "policy/v1", "version": "v1"}}]})
        if path == "/api/v1":
            return self.send_json(200, API_RESOURCES)
        if path == "/apis/policy/v1":
            return self.send_json(200, {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": "policy/v1",
                                        "resources": [{"name": "poddisruptionbudgets", "singularName": "",
                                                       "namespaced": True, "kind": "PodDisruptionBudget",
                                                       "verbs": ["get", "list"], "shortNames": ["pdb"]}]})
        if path == "/version":
            return self.send_json(200, {"major": "1", "minor": "32", "gitVersion": "v1.32.0-evictd-test"})
        m = re.fullmatch(r"/api/v1(?:/namespaces/([^/]+))?/pods", path)
        if m and method == "GET":
            return self.list_or_watch(m.group(1), query)
        m = re.fullmatch(r"/api/v1/namespaces/([^/]+)/pods/([^/]+)(/status|/eviction)?", path)
        if m:
            ns, name, sub = m.groups()
            if method == "GET" and sub in (None, "/status"):
                return self.get_pod(ns, name)
            if method == "PATCH" and sub == "/status":
                return self.patch_status(ns, name)
            if method == "DELETE" and sub is None:
                return self.delete_pod(ns, name)
            if method == "POST" and sub == "/eviction":
                return self.evict(ns, name)
        m = re.fullmatch(r"/api/v1/nodes/([^/]+)(/status)?", path)
        if m:
            name, sub = m.groups()
            with LOCK:
                node = STATE["nodes"].get(name)
                if node is None:
                    return self.send_json(404, status_body(404, "NotFound", 'nodes "%s" not found' % name,
                                                           {"name": name, "kind": "nodes"}))
                if method == "PATCH" and sub == "/status":
                    if self.headers.get("Content-Type") != "application/strategic-merge-patch+json":
                        return self.send_json(415, status_body(415, "UnsupportedMediaType", "unsupported patch"))
                    strategic_merge(node, {"status": self.read_body().get("status", {})})
                    node["metadata"]["resourceVersion"] = str(next_rv())
                result = copy.deepcopy(node)
            result.update({"kind": "Node", "apiVersion": "v1"})
            return self.send_json(200, result)
        m = re.fullmatch(r"/api/v1(?:/namespaces/([^/]+))?/events", path)
        if m:
            if method == "POST":
                event = self.read_body()
                with LOCK:
                    event.setdefault("metadata", {})["resourceVersion"] = str(next_rv())
                    STATE["events"].append(event)
                return self.send_json(201, event)
            with LOCK:
                items = [e for e in STATE["events"] if m.group(1) in (None, e["metadata"].get("namespace"))]
            return self.send_json(200, {"kind": "EventList", "apiVersion": "v1", "items": items,
                                        "metadata": {"resourceVersion": str(STATE["rv"])}})
        self.send_json(404, status_body(404, "NotFound", "the server could not find the requested resource"))

    def list_or_watch(self, ns, query):
        node = None
        selector = query.get("fieldSelector", "")
        for term in filter(None, selector.split(",")):
            key, _, value = term.partition("=")
            if key == "spec.nodeName":
                node = value
            elif key == "metadata.name":
                node = node  # accepted, applied below
        name_filter = dict(t.split("=", 1) for t in selector.split(",") if t.startswith("metadata.name="))

        def matches(pod):
            return ((ns is None or pod["metadata"]["namespace"] == ns) and
                    (node is None or pod.get("spec", {}).get("nodeName") == node) and
                    ("metadata.name" not in name_filter or pod["metadata"]["name"] == name_filter["metadata.name"]))

        if query.get("watch") in ("true", "1"):
            return self.watch(matches, query)
        with LOCK:
            pods = [copy.deepcopy(p) for p in STATE["pods"].values() if matches(p)]
            rv = STATE["rv"]
        if "as=Table" in self.headers.get("Accept", ""):
            return self.send_json(200, pod_table(pods, rv))
        self.send_json(200, {"kind": "PodList", "apiVersion": "v1", "metadata": {"resourceVersion": str(rv)},
                             "items": pods})

    def watch(self, matches, query):
        since = int(query.get("resourceVersion") or 0)
        bookmarks = query.get("allowWatchBookmarks") in ("true", "1")
        timeout = float(query.get("timeoutSeconds") or 300)
        with LOCK:
            if since and since < STATE["compacted_rv"]:
                return self.send_json(410, status_body(410, "Expired",
                                                       "too old resource version: %d (%d)" % (since, STATE["compacted_rv"])))
            generation = STATE["watch_generation"]
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

        def chunk(obj):
            data = (json.dumps(obj) + "\n").encode()
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()

        deadline = time.time() + timeout
        last = since
        last_bookmark = time.time()
        try:
            while time.time() < deadline:
                with LOCK:
                    if STATE["watch_generation"] != generation:
                        self.close_connection = True
                        return  # cut mid-stream, without the terminating chunk
                    pending = [(rv, t, p) for rv, t, p in STATE["history"] if rv > last and matches(p)]
                    if pending:
                        last = pending[-1][0]
                    elif not bookmarks or time.time() - last_bookmark < BOOKMARK_INTERVAL[0]:
                        LOCK.wait(0.2)
                        continue
                    current = STATE["rv"]
                for rv, event_type, pod in pending:
                    chunk({"type": event_type, "object": pod})
                if not pending and bookmarks:
                    last_bookmark = time.time()
                    chunk({"type": "BOOKMARK", "object": {"kind": "Pod", "apiVersion": "v1",
                                                          "metadata": {"resourceVersion": str(current)}}})
            self.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            pass

    def get_pod(self, ns, name):
        with LOCK:
            pod = STATE["pods"].get((ns, name))
            pod = as_object(pod) if pod is not None else None
        if pod is None:
            return self.pod_not_found(name)
        if "as=Table" in self.headers.get("Accept", ""):
            return self.send_json(200, pod_table([pod], STATE["rv"]))
        self.send_json(200, pod)

    def patch_status(self, ns, name):
        content_type = self.headers.get("Content-Type", "")
        if content_type not in ("application/strategic-merge-patch+json", "application/merge-patch+json"):
            return self.send_json(415, status_body(415, "UnsupportedMediaType",
                                                   "the body of the request was in an unknown format"))
        patch = self.read_body()
        with LOCK:
            pod = STATE["pods"].get((ns, name))
            if pod is None:
                return self.pod_not_found(name)
            # metadata.uid in a patch is a precondition (apimachinery's patcher): another pod that
            # took the name is not patched.
            if self.uid_conflict(pod, (patch.get("metadata") or {}).get("uid")):
                return
            # The status subresource ignores everything but status.
            strategic_merge(pod, {"status": patch.get("status", {})})
            record("MODIFIED", pod)
            result = as_object(pod)
        self.send_json(200, result)

    def pod_not_found(self, name):
        self.send_json(404, status_body(404, "NotFound", 'pods "%s" not found' % name,
                                        {"name": name, "kind": "pods"}))

    def uid_conflict(self, pod, uid):
        """A UID precondition that another pod of the same name fails: answered 409, True."""
        if not uid or uid == pod["metadata"].get("uid"):
            return False
        self.send_json(409, status_body(
            409, "Conflict", "Precondition failed: UID in precondition: %s, UID in object meta: %s" %
            (uid, pod["metadata"].get("uid"))))
        return True

    def delete_pod(self, ns, name):
        """DELETE with DeleteOptions: a UID precondition (409 when another pod has the name); graceful for
        a pod bound to a node and not terminal (deletionTimestamp set, its kubelet deletes it for good with
        grace 0), at once otherwise (pkg/registry/core/pod/strategy.go CheckGracefulDelete)."""
        options = self.read_body()
        with LOCK:
            pod = STATE["pods"].get((ns, name))
            if pod is None:
                return self.pod_not_found(name)
            if self.uid_conflict(pod, (options.get("preconditions") or {}).get("uid")):
                return
            grace = options.get("gracePeriodSeconds")
            if grace is None:
                grace = pod.get("spec", {}).get("terminationGracePeriodSeconds", 30)
            STATE.setdefault("deletions", []).append({"namespace": ns, "name": name, "grace": grace})
            terminal = pod.get("status", {}).get("phase") in ("Failed", "Succeeded")
            if grace == 0 or terminal or not pod.get("spec", {}).get("nodeName"):
                del STATE["pods"][(ns, name)]
                record("DELETED", pod)
            elif not pod["metadata"].get("deletionTimestamp"):
                pod["metadata"]["deletionTimestamp"] = now_rfc3339(grace)
                pod["metadata"]["deletionGracePeriodSeconds"] = grace
                record("MODIFIED", pod)
            result = as_object(pod)
        self.send_json(200, result)

    def evict(self, ns, name):
        body = self.read_body()
        with LOCK:
            pod = STATE["pods"].get((ns, name))
            if pod is None:
                return self.pod_not_found(name)
            labels = pod["metadata"].get("labels", {})
            ignore_budgets = (pod.get("status", {}).get("phase") in ("Pending", "Succeeded", "Failed") or
                              pod["metadata"].get("deletionTimestamp"))
            budgets = [] if ignore_budgets else [
                b for b in STATE["pdbs"] if b["namespace"] == ns and
                all(labels.get(k) == v for k, v in b["selector"].items())]
            if len(budgets) > 1:
                return self.send_json(500, status_body(
                    500, "InternalError",
                    "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support."))
            if budgets and budgets[0]["disruptionsAllowed"] <= 0:
                budget = budgets[0]
                return self.send_json(429, status_body(
                    429, "TooManyRequests", "Cannot evict pod as it would violate the pod's disruption budget.",
                    {"causes": [{"reason": "DisruptionBudget",
                                 "message": "The disruption budget %s needs %d healthy pods and has %d currently" %
                                            (budget["name"], budget.get("minAvailable", 1), budget.get("minAvailable", 1))}]}))
            if budgets:
                budgets[0]["disruptionsAllowed"] -= 1
            grace = (body.get("deleteOptions") or {}).get("gracePeriodSeconds")
            if grace is None:
                grace = pod.get("spec", {}).get("terminationGracePeriodSeconds", 30)
            STATE["evictions"] = STATE.get("evictions", []) + [{"namespace": ns, "name": name, "grace": grace}]
            if not pod["metadata"].get("deletionTimestamp"):
                conditions = [c for c in pod.setdefault("status", {}).get("conditions", [])
                              if c.get("type") != "DisruptionTarget"]
                conditions.append({"type": "DisruptionTarget", "status": "True",
                                   "reason": "EvictionByEvictionAPI", "message": "Eviction API: evicting",
                                   "lastTransitionTime": now_rfc3339()})
                pod["status"]["conditions"] = conditions
            if grace == 0 or not pod.get("spec", {}).get("nodeName"):
                del STATE["pods"][(ns, name)]
                record("DELETED", pod)
            elif not pod["metadata"].get("deletionTimestamp"):
                pod["metadata"]["deletionTimestamp"] = now_rfc3339(grace)
                pod["metadata"]["deletionGracePeriodSeconds"] = grace
                record("MODIFIED", pod)
        self.send_json(201, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201})

    # --- test controls

    def test_control(self, method, path, query):
        body = self.read_body()
        with LOCK:
            if path == "/_test/pods" and method == "POST":
                pod = body
                pod.setdefault("metadata", {}).setdefault("namespace", "default")
                pod["metadata"].setdefault("uid", "uid-" + pod["metadata"]["name"])
                pod["metadata"].setdefault("generation", 1)
                pod.setdefault("status", {"phase": "Running"})
                key = (pod["metadata"]["namespace"], pod["metadata"]["name"])
                event = "MODIFIED" if key in STATE["pods"] else "ADDED"
                STATE["pods"][key] = pod
                record(event, pod)
                result = {"resourceVersion": pod["metadata"]["resourceVersion"]}
            elif path == "/_test/pods" and method == "DELETE":
                pod = STATE["pods"].pop((query["namespace"], query["name"]), None)
                if pod is not None:  # a pod its kubelet deleted already is gone all the same
                    record("DELETED", pod)
                result = {}
            elif path == "/_test/nodes" and method == "POST":
                body.setdefault("status", {}).setdefault("conditions", [])
                body["metadata"]["resourceVersion"] = str(next_rv())
                STATE["nodes"][body["metadata"]["name"]] = body
                result = {}
            elif path == "/_test/pdbs" and method == "POST":
                STATE["pdbs"].append(body)
                result = {}
            elif path == "/_test/faults" and method == "POST":
                STATE["faults"].append(body)
                result = {}
            elif path == "/_test/faults" and method == "DELETE":
                STATE["faults"] = []
                result = {}
            elif path == "/_test/compact" and method == "POST":
                STATE["compacted_rv"] = STATE["rv"]
                result = {"compacted": STATE["rv"]}
            elif path == "/_test/cut-watches" and method == "POST":
                STATE["watch_generation"] += 1
                LOCK.notify_all()
                result = {}
            elif path == "/_test/state" and method == "GET":
                result = {"pods": list(STATE["pods"].values()), "events": STATE["events"],
                          "evictions": STATE.get("evictions", []), "deletions": STATE.get("deletions", []),
                          "requests": STATE["requests"]}
            else:
                result = None
        if result is None:
            return self.send_json(404, {"error": "unknown test control " + path})
        self.send_json(200, result)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--certs", required=True)
    parser.add_argument("--token", action="append", default=[])
    parser.add_argument("--bookmark-interval", type=float, default=1.0)
    args = parser.parse_args()
    TOKENS.update(args.token)
    BOOKMARK_INTERVAL[0] = args.bookmark_interval
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(args.certs + "/server.crt", args.certs + "/server.key")
    context.load_verify_locations(args.certs + "/ca.crt")
    context.verify_mode = ssl.CERT_OPTIONAL
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    server.socket = context.wrap_socket(server.socket, server_side=True)
    print("listening %d" % server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
