#!/usr/bin/env python3
"""Extracts the HTTP and gRPC routing tests of the Gateway API conformance suite into data
that mesh's tests run offline.

Usage: generate.py <gateway-api checkout> <output dir>

It copies the manifests the tests apply, unchanged, and transcribes each test's expected
requests and responses (the `http.ExpectedResponse` / `grpc.ExpectedResponse` tables of the Go
files, and the route conditions the tests assert) into one YAML file per test under
`cases/`. Literal tables are read with a small Go composite-literal parser; the few tests
whose cases are built by code (weights, gRPC, loops over two gateways) are transcribed in
MANUAL below. Every generated file names its source file.
"""
import os, re, shutil, sys, json
import yaml
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import golit, extract, walk
from golit import Ref, Call

# --- resolution of the conditions' constants -------------------------------------------
_resolve = extract.resolve
def resolve(v, env):
    if isinstance(v, Ref) and 'RouteReason' in v.name:
        return v.name.split('RouteReason')[-1]
    if isinstance(v, Ref) and 'RouteCondition' in v.name:
        return v.name.split('RouteCondition')[-1]
    if isinstance(v, Ref) and v.name.startswith('metav1.Condition'):
        return v.name[len('metav1.Condition'):]
    if isinstance(v, Ref) and v.name == 'roundtripper.H2CPriorKnowledgeProtocol':
        return 'H2C_PRIOR_KNOWLEDGE'
    if isinstance(v, Ref) and v.name.startswith('codes.'):
        return v.name[len('codes.'):]
    # mesh-frontend.go: the address of the echo-v2 client pod.
    if isinstance(v, Ref) and v.name == 'v2.Address':
        return '{POD_IP:echo-v2}'
    if isinstance(v, Call) and v.fn == 'http.Ipv6SafeHost':
        return resolve(v.args[0], env)
    return _resolve(v, env)
extract.resolve = resolve
walk.resolve = resolve

CORE = {'Gateway', 'HTTPRoute', 'ReferenceGrant', 'GRPCRoute', 'Mesh'}

NOT_APPLICABLE = {
    'HTTPRouteBackendProtocolH2C': 'checks the protocol spoken to the backend (h2c with prior knowledge), not a routing decision',
    'HTTPRouteBackendProtocolWebSocket': 'checks a WebSocket upgrade to the backend, not a routing decision',
    'HTTPRouteHTTPSListener': 'needs TLS (certificates, SNI)',
    'HTTPRouteHTTPSListenerDetectMisdirectedRequests': 'needs TLS (SNI versus Host, 421)',
    'HTTPRouteDisallowedKind': 'needs TLSRoute',
    'HTTPRouteObservedGenerationBump': 'checks live status updates (observedGeneration)',
    'HTTPRouteServiceTypes': 'needs EndpointSlices created at run time from live pod IPs',
    'HTTPRouteRetry': 'needs the echo server\'s stateful retry simulator (connection resets)',
    'HTTPRouteRequestPercentageMirror': 'checks mirror percentages by counting log lines of live pods',
}

def go_meta(src):
    m = {}
    m['name'] = re.search(r'ShortName:\s*"([^"]+)"', src).group(1)
    d = re.search(r'Description:\s*"((?:[^"\\]|\\.)*)"', src)
    m['description'] = json.loads('"' + d.group(1) + '"') if d else ''
    fb = re.search(r'Features:\s*\[\]features\.FeatureName\{(.*?)\}', src, re.S)
    m['features'] = [f.replace('Support', '') for f in re.findall(r'features\.(\w+)', fb.group(1))] if fb else []
    mb = re.search(r'Manifests:\s*\[\]string\{(.*?)\}', src, re.S)
    m['manifests'] = re.findall(r'"([^"]+)"', mb.group(1)) if mb else []
    m['provisional'] = bool(re.search(r'Provisional:\s*true', src))
    return m

def clean(d):
    """Drops absent (nil) values; empty strings stay: the Go runner compares them."""
    if isinstance(d, dict):
        return {k: clean(v) for k, v in d.items() if v is not None}
    if isinstance(d, list):
        return [clean(x) for x in d]
    return d

def http_case(er, gateway=None, listener=None):
    c = extract.convert_http(er)
    if gateway:
        c['gateway'] = gateway
    if listener:
        c['listener'] = listener
    # The Go runner turns StatusCode into StatusCodes and defaults to 200.
    c['expect'].setdefault('status', [200])
    return c

def listener_port_matching(c):
    """httproute-listener-port-matching.go sends to the listener of the Host's port."""
    host = c['request'].get('host', '')
    if ':' in host:
        c['port'] = int(host.rsplit(':', 1)[1])
    return c

# Tests that change the cluster between cases: the resources a case runs without.
DELETED = {
    'HTTPRouteReferenceGrant': {1: [{'kind': 'ReferenceGrant', 'namespace': 'gateway-conformance-web-backend', 'name': 'reference-grant'}]},
}

def gateway_test(path, src, meta):
    env, events = walk.walk(src)
    cases, conditions, unresolved = [], [], []
    for e in events:
        if e[0] == 'cases':
            lst = e[1] if isinstance(e[1], list) else [e[1]]
            for er in lst:
                if isinstance(er, dict) and ('Request' in er or 'Response' in er or 'Backend' in er):
                    cases.append(http_case(er, e[2], e[3]))
        elif e[0] == 'accepted':
            for r in e[3]:
                conditions.append({'route': r, 'parent': e[1], 'type': 'Accepted', 'status': 'True'})
        elif e[0] == 'condition':
            c = {'route': e[1], 'parent': e[2], 'type': e[3], 'status': e[4]}
            if e[5]:
                c['reason'] = e[5]
            conditions.append(c)
        elif e[0] == 'unresolved':
            unresolved.append(e[1])
    for c in cases:
        c.setdefault('port', 80)
        if meta['name'] == 'HTTPRouteListenerPortMatching':
            listener_port_matching(c)
    for i, deleted in DELETED.get(meta['name'], {}).items():
        cases[i]['delete'] = deleted
    return cases, conditions, unresolved

def grpc_case(er, gateway):
    method = 'Echo' if 'EchoRequest' in er else 'EchoTwo' if 'EchoTwoRequest' in er else 'EchoThree'
    c = {'gateway': gateway, 'grpc': {'service': 'gateway_api_conformance.echo_basic.grpcecho.GrpcEcho', 'method': method}}
    md = (er.get('RequestMetadata') or {})
    if md.get('Authority'):
        c['grpc']['authority'] = md['Authority']
    if md.get('Metadata'):
        c['grpc']['metadata'] = md['Metadata']
    exp = {}
    code = (er.get('Response') or {}).get('Code')
    exp['grpcCode'] = code if code is not None else 'OK'
    if er.get('Backend'):
        exp['backend'] = er['Backend']
    if 'Namespace' in er:
        exp['namespace'] = er['Namespace']
    c['expect'] = exp
    if er.get('TestCaseName'):
        c['name'] = er['TestCaseName']
    return c

def main(repo, out):
    tests_dir = os.path.join(repo, 'conformance', 'tests')
    os.makedirs(os.path.join(out, 'cases'), exist_ok=True)
    os.makedirs(os.path.join(out, 'tests', 'mesh'), exist_ok=True)
    os.makedirs(os.path.join(out, 'base'), exist_ok=True)
    os.makedirs(os.path.join(out, 'mesh'), exist_ok=True)
    shutil.copy(os.path.join(repo, 'conformance/base/manifests.yaml'), os.path.join(out, 'base/manifests.yaml'))
    shutil.copy(os.path.join(repo, 'conformance/mesh/manifests.yaml'), os.path.join(out, 'mesh/manifests.yaml'))
    files = sorted(f for f in os.listdir(tests_dir) if f.endswith('.go') and (f.startswith('httproute-') or f.startswith('grpcroute-') or f in ('gateway-http-listener-isolation.go',)))
    files += sorted('mesh/' + f for f in os.listdir(os.path.join(tests_dir, 'mesh')) if f.endswith('.go') and f != 'main.go')
    index = []
    import grpcmanual
    for f in files:
        src = open(os.path.join(tests_dir, f)).read()
        metas = []
        # a file may hold several tests; one may run another's body (`Test: X.Test`)
        blocks = {}
        for block in re.split(r'\n(?=var \w+ = (?:confsuite|suite)\.ConformanceTest\{)', src):
            if 'ShortName:' in block:
                var = re.match(r'var (\w+)', block)
                blocks[var.group(1) if var else ''] = block
        for block in blocks.values():
            shared = re.search(r'Test:\s*(\w+)\.Test,', block)
            body = blocks.get(shared.group(1), block) if shared else block
            metas.append((go_meta(block), body))
        for meta, block in metas:
            name = meta['name']
            doc = {
                'name': name,
                'description': meta['description'],
                'source': 'conformance/tests/' + f,
                'features': meta['features'],
                'provisional': meta['provisional'],
                'manifests': meta['manifests'],
                'mode': 'mesh' if f.startswith('mesh/') else 'gateway',
            }
            for m in meta['manifests']:
                dst = os.path.join(out, m)
                os.makedirs(os.path.dirname(dst), exist_ok=True)
                shutil.copy(os.path.join(repo, 'conformance', m), dst)
            if name in NOT_APPLICABLE:
                doc['notApplicable'] = NOT_APPLICABLE[name]
            elif name in grpcmanual.MANUAL:
                doc.update(grpcmanual.MANUAL[name](block, doc))
            elif f.startswith('mesh/'):
                doc.update(grpcmanual.mesh_test(block, doc))
            else:
                cases, conditions, unresolved = gateway_test(f, block, meta)
                if unresolved:
                    print('unresolved in', name, unresolved, file=sys.stderr)
                doc['conditions'] = conditions
                doc['cases'] = cases
            doc = clean(doc)
            with open(os.path.join(out, 'cases', name + '.yaml'), 'w') as fh:
                fh.write('# Transcribed from kubernetes-sigs/gateway-api %s (Apache-2.0) by generate.py.\n' % doc['source'])
                yaml.safe_dump(doc, fh, sort_keys=False, width=100, allow_unicode=True)
            index.append(name)
    print(len(index), 'tests')

if __name__ == '__main__':
    main(sys.argv[1], sys.argv[2])
