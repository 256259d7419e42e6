"""The proxy race's configurations: Istio YAML for mesh-proxy, and the Envoy bootstrap
istiod would generate from the same resources, written statically.

Each configuration is built from Istio resources (plain dicts, as loaded from YAML), then:

- its ServiceEntry endpoints are given upstream ports on 127.0.0.1, one per endpoint and
  service port, so that the upstream's `x-upstream` answer says which endpoint (which
  subset, which host) a request was sent to;
- with policies on, every HTTP rule gets retries on 5xx, a 10 % mirror and request and
  response header operations, and the upstream fails 1 % of requests;
- `envoy_bootstrap` translates the resources the way istiod does for the proxy's identity
  (a Gateway, or a sidecar), for the subset of Istio the race uses: first-match routes in
  VirtualService order, `weighted_clusters`, timeouts, retry policies, faults, mirrors,
  header operations, and one `outbound|PORT|SUBSET|HOST` cluster per service port and
  subset (STATIC, with the ServiceEntry endpoints the subset's labels select).

The translation follows istiod's code (pilot/pkg/networking/core/httproute.go,
route/route.go, route/retry/retry.go, cluster_builder.go) and the bootstrap's stats matcher
(pkg/bootstrap/config.go); what stock Envoy lacks (istio.stats, istio.metadata_exchange,
mTLS) is left out, as in benches/vs-envoy/envoy.yaml.tmpl.
"""

import copy
import json
import subprocess

import yaml

DOMAIN = "svc.cluster.local"
MIRROR_SERVICE = "mirror"
MIRROR_PORT = 80
FAIL_EVERY = 100  # the failing upstream answers every 100th request 503: 1 %
MIRROR_PERCENT = 10.0
DEFAULT_RETRY = {
    "retry_on": "connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes",
    "num_retries": 2,
    "retry_host_predicate": [{
        "name": "envoy.retry_host_predicates.previous_hosts",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate"
        },
    }],
    "host_selection_retry_max_attempts": 5,
}


# ---- requests ------------------------------------------------------------------------------

class Request:
    """One request of a configuration: what the load generators and the checks send."""

    def __init__(self, name, authority, path, headers=(), method="GET"):
        self.name = name
        self.authority = authority
        self.path = path
        self.headers = [(k, v) for k, v in headers if k.lower() != "host"]
        self.method = method

    def with_header(self, name, value):
        r = copy.copy(self)
        r.headers = self.headers + [(name, value)]
        return r

    def key(self):
        return (self.authority, tuple(self.headers))


def from_json_line(line):
    j = json.loads(line)
    return Request(j["name"], j["authority"], j["path"], [tuple(h) for h in j["headers"]])


# ---- configurations --------------------------------------------------------------------------

class Config:
    """A configuration of the race: resources, identity, and the requests it is driven with.

    `load` are the requests the load generators rotate; `check_only` are sent by the
    differential check only; `h2_groups` are lists of requests sharing authority and headers
    (h2load varies only the path), one per h2c connection.
    """

    def __init__(self, name, title, resources, identity, listener_port, load, check_only=(),
                 h2_groups=None):
        self.name = name
        self.title = title
        self.resources = resources
        self.identity = identity  # ("gateway", ns, name) or ("sidecar", ns, {labels})
        self.listener_port = listener_port
        self.load = list(load)
        self.check_only = list(check_only)
        self.h2_groups = h2_groups or default_h2_groups(self.load)
        self.policies = False
        self.upstream = []  # (port, fail_every)
        self.endpoint_names = {}  # upstream port -> "host:port labels"
        self.mirror_port = None

    def namespace(self):
        return self.identity[1]

    def mesh_args(self):
        kind, ns, rest = self.identity
        if kind == "gateway":
            return ["--gateway", f"{ns}/{rest}"]
        labels = ",".join(f"{k}={v}" for k, v in sorted(rest.items()))
        args = ["--namespace", ns, "--port-as", str(self.listener_port)]
        return args + (["--labels", labels] if labels else [])

    def mesh_yaml(self):
        return yaml.safe_dump_all(self.resources, sort_keys=False, width=1000)


def default_h2_groups(load, connections=4):
    groups = {}
    for r in load:
        groups.setdefault(r.key(), []).append(r)
    ordered = list(groups.values())
    return [ordered[i % len(ordered)] for i in range(connections)]


def kinds(resources, kind):
    return [r for r in resources if r.get("kind") == kind]


def fqdn(host, ns):
    return host if "." in host else f"{host}.{ns}.{DOMAIN}"


def rust_fixture(race_yaml, *args):
    out = subprocess.run([race_yaml, *args], check=True, capture_output=True, text=True)
    return out.stdout


def three_rules(mesh_template):
    """The three rules of benches/vs-envoy.sh, as mesh.yaml.tmpl has them, at a Gateway."""
    text = open(mesh_template).read().replace("@UPSTREAM_PORT@", "1")
    resources = [r for r in yaml.safe_load_all(text) if r]
    load = [
        Request("api-prefix", "bench.example.com", "/api/items"),
        Request("canary-header", "bench.example.com", "/shop", [("x-user", "canary")]),
        Request("split", "bench.example.com", "/shop"),
    ]
    check_only = [Request("no-vhost", "other.example.com", "/shop")]
    return Config("three-rules", "three rules (Gateway)", resources,
                  ("gateway", "bench", "bench-gateway"), 80, load, check_only)


def bookinfo_services(ns="bookinfo"):
    """ServiceEntries standing for bookinfo's Kubernetes Services: port 9080, one endpoint
    per version the DestinationRules name (ratings' MySQL variants have none)."""
    versions = {"productpage": ["v1"], "reviews": ["v1", "v2", "v3"], "ratings": ["v1", "v2"],
                "details": ["v1", "v2"]}
    out = []
    for svc, vs in versions.items():
        out.append({
            "apiVersion": "networking.istio.io/v1", "kind": "ServiceEntry",
            "metadata": {"name": svc, "namespace": ns},
            "spec": {
                "hosts": [f"{svc}.{ns}.{DOMAIN}"], "location": "MESH_INTERNAL",
                "resolution": "STATIC",
                "ports": [{"number": 9080, "name": "http", "protocol": "HTTP"}],
                "endpoints": [{"address": "127.0.0.1", "labels": {"app": svc, "version": v}}
                              for v in vs],
            },
        })
    return out


def bookinfo(race_yaml):
    """Bookinfo as the sidecar of productpage-v1 sees it: the criterion benchmarks'
    BOOKINFO_YAML, with ServiceEntries for the four services' endpoints."""
    resources = [r for r in yaml.safe_load_all(rust_fixture(race_yaml, "bookinfo")) if r]
    resources += bookinfo_services()
    cases = {r.name: r for r in map(from_json_line,
                                    rust_fixture(race_yaml, "bookinfo-requests").splitlines())}
    # The load: a header match, a header miss into a 25/25/50 split, a 50/50 split with
    # retries and a timeout. Sent by the check only: the fault rule (an abort, answered by the
    # proxy) and a host no resource knows (REGISTRY_ONLY: 502). Not sent at all: ratings
    # without `end-user: jason`, whose rule delays 10 % of requests by 7 s.
    load = [cases["header_match"], cases["weighted_split"], cases["split_50_50"]]
    check_only = [cases["fault_rule"], cases["passthrough"],
                  Request("productpage", "productpage:9080", "/productpage")]
    return Config("bookinfo", "bookinfo (sidecar of productpage-v1)", resources,
                  ("sidecar", "bookinfo", {"app": "productpage", "version": "v1"}), 9080,
                  load, check_only)


def generated(race_yaml, hosts, rules, requests, seed=1):
    """The criterion benchmarks' generated table (`generated_yaml`), as a sidecar in `gen`
    sees it: `hosts` VirtualServices of `rules` rules; rule j of svc-i routes to port
    8000 + j. Each svc-i is a ServiceEntry with port 8080 (the port clients call) and ports
    8000.., one endpoint each. The load rotates `requests` random (host, rule) requests
    (`random_gen_requests`)."""
    ns = "gen"
    resources = [r for r in yaml.safe_load_all(rust_fixture(race_yaml, "generated", str(hosts),
                                                                 str(rules))) if r]
    for i in range(hosts):
        ports = [{"number": 8000 + j, "name": f"http-{8000 + j}", "protocol": "HTTP"}
                 for j in range(rules)]
        ports.append({"number": 8080, "name": "http", "protocol": "HTTP"})
        resources.append({
            "apiVersion": "networking.istio.io/v1", "kind": "ServiceEntry",
            "metadata": {"name": f"svc-{i}", "namespace": ns},
            "spec": {"hosts": [f"svc-{i}.{ns}.{DOMAIN}"], "location": "MESH_INTERNAL",
                     "resolution": "STATIC", "ports": ports,
                     "endpoints": [{"address": "127.0.0.1", "labels": {"app": f"svc-{i}"}}]},
        })
    load = [from_json_line(line) for line in rust_fixture(
        race_yaml, "generated-requests", str(hosts), str(rules), str(requests), str(seed)
    ).splitlines()]
    # h2c: h2load varies only the path, so each connection carries one host and one set of
    # headers: four hosts, each with the requests of its rules that `gen_request` sends with
    # `x-tenant: acme` (all but the header rules).
    h2_groups = []
    for r in load:
        if len(h2_groups) == 4:
            break
        if any(g[0].authority == r.authority for g in h2_groups):
            continue
        i = r.authority.split(":")[0].split("-")[1]
        mine = [from_json_line(line) for line in rust_fixture(
            race_yaml, "generated-host-requests", str(rules), i).splitlines()]
        h2_groups.append([x for x in mine if ("x-tenant", "acme") in x.headers])
    return Config("generated", f"{hosts} hosts x {rules} rules (sidecar)", resources,
                  ("sidecar", ns, {}), 8080, load,
                  [Request("no-rule", load[0].authority, "/nothing", load[0].headers)], h2_groups)


# ---- policies and endpoints ------------------------------------------------------------------

def with_policies(config):
    """The same configuration with policies on every HTTP rule: retries on 5xx (kept where a
    rule has its own), a 10 % mirror to `mirror.<ns>`, request headers set/add/remove and
    response headers set/remove. The requests carry `x-bench-drop`, which the rules remove."""
    c = copy.deepcopy(config)
    c.name += "+policies"
    c.title += " + policies"
    c.policies = True
    ns = c.namespace()
    mirror_host = f"{MIRROR_SERVICE}.{ns}.{DOMAIN}"
    for vs in kinds(c.resources, "VirtualService"):
        for idx, rule in enumerate(vs["spec"].get("http", [])):
            if "route" not in rule:
                continue
            rule.setdefault("retries", {"attempts": 2, "retryOn": "5xx"})
            rule["mirror"] = {"host": mirror_host, "port": {"number": MIRROR_PORT}}
            rule["mirrorPercentage"] = {"value": MIRROR_PERCENT}
            label = rule.get("name") or f"{vs['metadata']['name']}-{idx}"
            rule["headers"] = {
                "request": {"set": {"x-bench-route": label}, "add": {"x-bench-added": "yes"},
                            "remove": ["x-bench-drop"]},
                "response": {"set": {"x-bench-policy": "on"}, "remove": ["x-upstream-noise"]},
            }
    c.resources.append({
        "apiVersion": "networking.istio.io/v1", "kind": "ServiceEntry",
        "metadata": {"name": MIRROR_SERVICE, "namespace": ns},
        "spec": {"hosts": [mirror_host], "location": "MESH_INTERNAL", "resolution": "STATIC",
                 "ports": [{"number": MIRROR_PORT, "name": "http", "protocol": "HTTP"}],
                 "endpoints": [{"address": "127.0.0.1", "labels": {"app": MIRROR_SERVICE}}]},
    })
    drop = ("x-bench-drop", "1")
    c.load = [r.with_header(*drop) for r in c.load]
    c.check_only = [r.with_header(*drop) for r in c.check_only]
    c.h2_groups = [[r.with_header(*drop) for r in g] for g in c.h2_groups]
    return c


def assign_endpoints(config, next_port, reserved):
    """Gives every ServiceEntry endpoint and port an upstream port of its own (the
    endpoint's `ports` map), and records the upstream's listeners. `next_port` is the first
    port to use; ports in `reserved` are skipped."""
    port = next_port
    for se in kinds(config.resources, "ServiceEntry"):
        host = se["spec"]["hosts"][0]
        mirror = se["metadata"]["name"] == MIRROR_SERVICE
        for ep in se["spec"].get("endpoints", []):
            ep["ports"] = {}
            first = None
            for p in se["spec"]["ports"]:
                # A generated service's port 8080 (listed last; no rule routes to it) shares
                # the endpoint port of 8000: two service ports to one container port.
                if p["number"] == 8080 and len(se["spec"]["ports"]) > 1 and first is not None:
                    ep["ports"][p["name"]] = first
                    continue
                while port in reserved:
                    port += 1
                ep["ports"][p["name"]] = port
                first = first or port
                fail = FAIL_EVERY if config.policies and not mirror else 0
                config.upstream.append((port, fail))
                labels = ",".join(f"{k}={v}" for k, v in sorted(ep.get("labels", {}).items()))
                config.endpoint_names[port] = f"{host}:{p['number']} {labels}"
                if mirror:
                    config.mirror_port = port
                port += 1
    return port


# ---- Envoy -----------------------------------------------------------------------------------

def duration(value):
    """An Istio duration ("10s", "1.5s", "250ms") as Envoy's JSON duration."""
    if value.endswith("ms"):
        return f"{float(value[:-2]) / 1000:g}s"
    if value.endswith("s"):
        return f"{float(value[:-1]):g}s"
    if value.endswith("m"):
        return f"{float(value[:-1]) * 60:g}s"
    if value.endswith("h"):
        return f"{float(value[:-1]) * 3600:g}s"
    raise ValueError(f"duration {value!r}")


def percent(value):
    """Istio's Percent as Envoy's FractionalPercent (translatePercentToFractionalPercent)."""
    return {"numerator": int(value * 10000), "denominator": "MILLION"}


def string_match(m):
    if "exact" in m:
        return {"exact": m["exact"]}
    if "prefix" in m:
        return {"prefix": m["prefix"]}
    if "regex" in m:
        return {"safe_regex": {"regex": m["regex"]}}
    raise ValueError(f"string match {m!r}")


def route_match(match):
    out = {"prefix": "/", "case_sensitive": True}
    if match and "uri" in match:
        uri = match["uri"]
        del out["prefix"]
        if "exact" in uri:
            out["path"] = uri["exact"]
        elif "prefix" in uri:
            out["prefix"] = uri["prefix"]
        elif "regex" in uri:
            out["safe_regex"] = {"regex": uri["regex"]}
    if match and match.get("headers"):
        out["headers"] = [{"name": k, "string_match": string_match(v)}
                          for k, v in match["headers"].items()]
    return out


def retry_policy(retries):
    """retry.ConvertPolicy: Istio's default, or the VirtualService's."""
    if retries is None:
        return copy.deepcopy(DEFAULT_RETRY)
    if retries.get("attempts", 0) <= 0:
        return None
    out = copy.deepcopy(DEFAULT_RETRY)
    out["num_retries"] = retries["attempts"]
    if retries.get("retryOn"):
        on, codes = [], []
        for part in retries["retryOn"].split(","):
            part = part.strip()
            (codes if part.isdigit() else on).append(part)
        if codes and "retriable-status-codes" not in on:
            on.append("retriable-status-codes")
        out["retry_on"] = ",".join(on)
        if codes:
            out["retriable_status_codes"] = [int(c) for c in codes]
    if retries.get("perTryTimeout"):
        out["per_try_timeout"] = duration(retries["perTryTimeout"])
    return out


def header_ops(headers):
    """TranslateHeadersOperations: set overwrites, add appends, sorted by name."""
    out = {}
    for side in ("request", "response"):
        ops = (headers or {}).get(side) or {}
        add = [{"header": {"key": k, "value": v}, "append_action": "OVERWRITE_IF_EXISTS_OR_ADD"}
               for k, v in sorted((ops.get("set") or {}).items())]
        add += [{"header": {"key": k, "value": v}, "append_action": "APPEND_IF_EXISTS_OR_ADD"}
                for k, v in sorted((ops.get("add") or {}).items())]
        if add:
            out[f"{side}_headers_to_add"] = add
        if ops.get("remove"):
            out[f"{side}_headers_to_remove"] = list(ops["remove"])
    return out


class Registry:
    """Services (ServiceEntry hosts and ports) and DestinationRules, as istiod sees them."""

    def __init__(self, resources):
        self.services = {}  # fqdn -> ServiceEntry
        for se in kinds(resources, "ServiceEntry"):
            for h in se["spec"]["hosts"]:
                self.services[h] = se
        self.rules = {}  # fqdn -> DestinationRule
        for dr in kinds(resources, "DestinationRule"):
            self.rules[fqdn(dr["spec"]["host"], dr["metadata"]["namespace"])] = dr

    def cluster(self, destination, ns, listener_port):
        """LookupDestinationCluster: outbound|PORT|SUBSET|HOST."""
        host = fqdn(destination["host"], ns)
        port = (destination.get("port") or {}).get("number")
        if port is None:
            se = self.services.get(host)
            ports = se["spec"]["ports"] if se else []
            port = ports[0]["number"] if len(ports) == 1 else listener_port
        return f"outbound|{port}|{destination.get('subset', '')}|{host}"


def fault_config(fault):
    out = {"@type": "type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault"}
    if "abort" in fault:
        a = fault["abort"]
        out["abort"] = {"http_status": a["httpStatus"],
                        "percentage": percent(a.get("percentage", {}).get("value", 100.0))}
    if "delay" in fault:
        d = fault["delay"]
        out["delay"] = {"fixed_delay": duration(d["fixedDelay"]),
                        "percentage": percent(d.get("percentage", {}).get("value", 100.0))}
    return out


def http_routes(vs, registry, listener_port, operation_host):
    """The Envoy routes of a VirtualService, in rule order, one per match block."""
    ns = vs["metadata"]["namespace"]
    meta = {"filter_metadata": {"istio": {
        "config": f"/apis/networking.istio.io/v1/namespaces/{ns}/virtual-service/{vs['metadata']['name']}"}}}
    out = []
    for rule in vs["spec"].get("http", []):
        for match in rule.get("match") or [None]:
            if match and match.get("port") and match["port"] != listener_port:
                continue
            name = rule.get("name", "")
            if match and match.get("name"):
                name = f"{name}.{match['name']}"
            r = {"name": name, "match": route_match(match), "metadata": meta}
            r.update(header_ops(rule.get("headers")))
            timeout = duration(rule["timeout"]) if rule.get("timeout") else "0s"
            action = {"timeout": timeout,
                      "max_stream_duration": {"max_stream_duration": timeout,
                                              "grpc_timeout_header_max": timeout}}
            dests = [d for d in rule["route"] if len(rule["route"]) == 1 or d.get("weight", 0)]
            if len(rule["route"]) == 1:
                action["cluster"] = registry.cluster(dests[0]["destination"], ns, listener_port)
                r.update(header_ops(dests[0].get("headers")))
            else:
                clusters = []
                for d in dests:
                    cw = {"name": registry.cluster(d["destination"], ns, listener_port),
                          "weight": d["weight"]}
                    cw.update(header_ops(d.get("headers")))
                    clusters.append(cw)
                action["weighted_clusters"] = {"clusters": clusters}
            if rule.get("mirror"):
                mp = (percent(rule["mirrorPercentage"]["value"]) if "mirrorPercentage" in rule
                      else {"numerator": 100, "denominator": "HUNDRED"})
                action["request_mirror_policies"] = [{
                    "cluster": registry.cluster(rule["mirror"], ns, listener_port),
                    "runtime_fraction": {"default_value": mp},
                    "trace_sampled": False,
                }]
            policy = retry_policy(rule.get("retries"))
            if policy:
                action["retry_policy"] = policy
            r["route"] = action
            first = fqdn(rule["route"][0]["destination"]["host"], ns)
            port = (rule["route"][0]["destination"].get("port") or {}).get("number", listener_port)
            r["decorator"] = {"operation": f"{operation_host or first}:{port}/*"}
            if rule.get("fault"):
                r["typed_per_filter_config"] = {"envoy.filters.http.fault": fault_config(rule["fault"])}
            out.append(r)
    return out


def default_route(cluster, host, port):
    """BuildDefaultHTTPOutboundRoute: a service without a VirtualService."""
    return {"name": "default", "match": {"prefix": "/"},
            "decorator": {"operation": f"{host}:{port}/*"},
            "route": {"cluster": cluster, "timeout": "0s",
                      "max_stream_duration": {"max_stream_duration": "0s",
                                              "grpc_timeout_header_max": "0s"},
                      "retry_policy": copy.deepcopy(DEFAULT_RETRY)}}


def sidecar_domains(host, ns):
    """generateVirtualHostDomains for a sidecar (ports ignored in host matching)."""
    if host.endswith("." + DOMAIN):
        short, svc_ns = host[: -len(DOMAIN) - 1].split(".", 1)
        if svc_ns == ns:
            return [host, short, f"{short}.{svc_ns}.svc", f"{short}.{svc_ns}"]
        return [host, f"{short}.{svc_ns}", f"{short}.{svc_ns}.svc"]
    return [host]


def virtual_hosts(config, registry):
    kind, ns, _ = config.identity
    port = config.listener_port
    vss = kinds(config.resources, "VirtualService")
    if kind == "gateway":
        gw = f"{ns}/{config.identity[2]}"
        out = []
        for vs in vss:
            gws = [g if "/" in g else f"{vs['metadata']['namespace']}/{g}"
                   for g in vs["spec"].get("gateways", [])]
            if gw not in gws:
                continue
            for h in vs["spec"]["hosts"]:
                out.append({"name": f"{h}:{port}", "domains": [h],
                            "include_request_attempt_count": True,
                            "routes": http_routes(vs, registry, port, vs["metadata"]["name"])})
        return out
    # A sidecar: one virtual host per service with the listener's port, its VirtualService's
    # routes (first VirtualService per host) or the default route; then the catch-all.
    by_host = {}
    for vs in vss:
        if vs["spec"].get("gateways") and "mesh" not in vs["spec"]["gateways"]:
            continue
        for h in vs["spec"]["hosts"]:
            by_host.setdefault(fqdn(h, vs["metadata"]["namespace"]), vs)
    out = []
    for host, se in registry.services.items():
        if not any(p["number"] == port for p in se["spec"]["ports"]):
            continue
        vs = by_host.get(host)
        routes = (http_routes(vs, registry, port, None) if vs else
                  [default_route(f"outbound|{port}||{host}", host, port)])
        out.append({"name": f"{host}:{port}", "domains": sidecar_domains(host, ns),
                    "include_request_attempt_count": True, "routes": routes})
    out.sort(key=lambda v: v["name"])
    out.append({"name": "block_all", "domains": ["*"], "include_request_attempt_count": True,
                "routes": [{"name": "block_all", "match": {"prefix": "/"},
                            "direct_response": {"status": 502}}]})
    return out


def clusters(registry):
    """One STATIC cluster per service port and subset (and one without a subset), with the
    endpoints the subset's labels select, LEAST_REQUEST unless the DestinationRule says."""
    out = []
    for host, se in registry.services.items():
        dr = registry.rules.get(host)
        subsets = [("", {})] + [(s["name"], s.get("labels", {}))
                                for s in (dr["spec"].get("subsets", []) if dr else [])]
        lb = ((dr or {}).get("spec", {}).get("trafficPolicy", {}).get("loadBalancer", {})
              .get("simple", "LEAST_REQUEST"))
        lb = {"ROUND_ROBIN": "ROUND_ROBIN", "RANDOM": "RANDOM"}.get(lb, "LEAST_REQUEST")
        for p in se["spec"]["ports"]:
            for subset, labels in subsets:
                name = f"outbound|{p['number']}|{subset}|{host}"
                eps = [e for e in se["spec"].get("endpoints", [])
                       if all(e.get("labels", {}).get(k) == v for k, v in labels.items())]
                out.append({
                    "name": name, "type": "STATIC", "connect_timeout": "10s", "lb_policy": lb,
                    "circuit_breakers": {"thresholds": [{
                        "max_connections": 4294967295, "max_pending_requests": 4294967295,
                        "max_requests": 4294967295, "max_retries": 4294967295,
                        "track_remaining": True}]},
                    "typed_extension_protocol_options": {
                        "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
                            "@type": "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
                            "common_http_protocol_options": {"idle_timeout": "3600s"},
                            "explicit_http_config": {"http_protocol_options": {}}}},
                    "load_assignment": {"cluster_name": name, "endpoints": [{"lb_endpoints": [
                        {"endpoint": {"address": {"socket_address": {
                            "address": e["address"],
                            "port_value": e.get("ports", {}).get(p["name"], p["number"])}}}}
                        for e in eps]}]},
                })
    return out


STATS_MATCHER = {"inclusion_list": {"patterns": (
    [{"prefix": p} for p in ["reporter=", "cluster_manager", "listener_manager", "server",
                             "cluster.xds-grpc", "wasm"]]
    + [{"suffix": s} for s in ["rbac.allowed", "rbac.denied", "shadow_allowed", "shadow_denied",
                               "downstream_cx_active"]]
    + [{"safe_regex": {"regex": "vhost\\..*\\.route\\..*"}}]
    + [{"prefix": "component"}, {"prefix": "istio"}])}}


def envoy_bootstrap(config, listen_port, admin_port):
    """The Envoy bootstrap for `config`, listening on 127.0.0.1:`listen_port`."""
    registry = Registry(config.resources)
    gateway = config.identity[0] == "gateway"
    hcm = {
        "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
        "stat_prefix": f"outbound_0.0.0.0_{config.listener_port}",
        "codec_type": "AUTO",
        "use_remote_address": gateway,
        "normalize_path": True,
        "path_with_escaped_slashes_action": "KEEP_UNCHANGED",
        "stream_idle_timeout": "0s",
        "upgrade_configs": [{"upgrade_type": "websocket"}],
        "request_id_extension": {"typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.request_id.uuid.v3.UuidRequestIdConfig",
            "use_request_id_for_trace_sampling": True}},
        "http_filters": [
            {"name": "envoy.filters.http.fault", "typed_config": {
                "@type": "type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault"}},
            {"name": "envoy.filters.http.cors", "typed_config": {
                "@type": "type.googleapis.com/envoy.extensions.filters.http.cors.v3.Cors"}},
            {"name": "envoy.filters.http.router", "typed_config": {
                "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"}},
        ],
        "route_config": {
            "name": f"http.{config.listener_port}" if gateway else str(config.listener_port),
            "validate_clusters": False,
            "ignore_port_in_host_matching": True,
            "max_direct_response_body_size_bytes": 1048576,
            "virtual_hosts": virtual_hosts(config, registry),
        },
    }
    if gateway:
        hcm["server_name"] = "istio-envoy"
    return {
        "admin": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": admin_port}}},
        "stats_config": {"use_all_default_tags": False, "stats_matcher": STATS_MATCHER},
        "static_resources": {
            "listeners": [{
                "name": f"0.0.0.0_{config.listener_port}",
                "address": {"socket_address": {"address": "127.0.0.1", "port_value": listen_port}},
                "filter_chains": [{"filters": [{
                    "name": "envoy.filters.network.http_connection_manager",
                    "typed_config": hcm}]}],
            }],
            "clusters": clusters(registry),
        },
    }
