"""Tests whose cases the Go code builds rather than lists, transcribed here."""
import re, sys
import walk, extract, golit
from golit import Ref, Call

INFRA = 'gateway-conformance-infra'
MESH = 'gateway-conformance-mesh'
CONSUMER = 'gateway-conformance-mesh-consumer'

def _gw(block):
    m = re.search(r'gwNN\s*:?=\s*types\.NamespacedName\{Name:\s*"([^"]+)"', block)
    return f'{INFRA}/{m.group(1)}' if m else f'{INFRA}/same-namespace'

def _conditions(block):
    env, events = walk.walk(block)
    out = []
    for e in events:
        if e[0] == 'accepted':
            for r in e[3]:
                out.append({'route': r, 'parent': e[1], 'type': 'Accepted', 'status': 'True'})
        elif e[0] == 'condition':
            c = {'route': e[1], 'parent': e[2], 'type': e[3], 'status': e[4]}
            if e[5]:
                c['reason'] = e[5]
            out.append(c)
    return out

def _grpc_routes_accepted(block):
    # GatewayAndRoutesMustBeAccepted(..., NewGatewayRef(gwNN), &v1.GRPCRoute{}, true, routeNN)
    gw = _gw(block)
    routes = re.findall(r'routeNN\w*\s*:?=\s*types\.NamespacedName\{Name:\s*"([^"]+)"', block)
    return [{'route': f'{INFRA}/{r}', 'kind': 'GRPCRoute', 'parent': gw, 'type': 'Accepted', 'status': 'True'} for r in routes]

def grpc_cases(block, doc):
    import generate
    env, events = walk.walk(block, literal_types=('grpc.ExpectedResponse',))
    gw = _gw(block)
    cases = []
    for e in events:
        if e[0] == 'cases':
            lst = e[1] if isinstance(e[1], list) else [e[1]]
            for er in lst:
                if isinstance(er, dict) and ({'EchoRequest', 'EchoTwoRequest', 'EchoThreeRequest'} & set(er)):
                    cases.append(generate.grpc_case(er, gw))
    return {'conditions': _grpc_routes_accepted(block), 'cases': cases}

def _codes(er):
    return er

def weights(block, doc, grpc=False):
    w = {}
    m = re.search(r'expectedWeights\s*:=\s*map\[string\]float64\{(.*?)\n\t*\}', block, re.S)
    for k, v in re.findall(r'([\w."-]+):\s*([0-9.]+)', m.group(1)):
        k = k.strip('"')
        k = {'confsuite.InfraBackendServiceNameV1': 'infra-backend-v1',
             'confsuite.InfraBackendServiceNameV2': 'infra-backend-v2',
             'confsuite.InfraBackendServiceNameV3': 'infra-backend-v3'}.get(k, k)
        w[k] = float(v)
    gw = _gw(block)
    if grpc:
        req = {'gateway': gw, 'grpc': {'service': 'gateway_api_conformance.echo_basic.grpcecho.GrpcEcho', 'method': 'Echo'}}
        conds = _grpc_routes_accepted(block)
    else:
        path = re.search(r'Request:\s*http\.Request\{Path:\s*"([^"]+)"', block).group(1)
        req = {'gateway': gw, 'request': {'path': path}}
        conds = _conditions(block)
    return {'conditions': conds, 'weights': [dict(req, expected=w, requests=500, tolerance=0.05)]}

def backend_weights(block, doc):
    return {
        'conditions': _conditions(block),
        'cases': [{
            'gateway': f'{INFRA}/same-namespace',
            'request': {'path': '/'},
            'repeat': 100,
            'expect': {'status': [200], 'namespace': INFRA, 'podPrefixFromRequestHeader': 'Backend'},
        }],
    }

def isolation(block, doc):
    import generate
    env, events = walk.walk(block)
    base = []
    conds = []
    gws = []
    for e in events:
        if e[0] == 'cases':
            for er in (e[1] if isinstance(e[1], list) else [e[1]]):
                if isinstance(er, dict) and 'Request' in er:
                    base.append(er)
        elif e[0] == 'accepted':
            gws.append(e[1])
            for r in e[3]:
                conds.append({'route': r, 'parent': e[1], 'type': 'Accepted', 'status': 'True'})
    cases = []
    for g in gws:
        for er in base:
            cases.append(dict(generate.http_case(er, g), port=80))
    return {'conditions': conds, 'cases': cases}

def redirect_port_and_scheme(block, doc):
    import generate
    env, events = walk.walk(block)
    tables = [e for e in events if e[0] == 'cases']
    targets = [
        (f'{INFRA}/same-namespace', 80, 'http'),
        (f'{INFRA}/same-namespace-with-http-listener-on-8080', 8080, 'http'),
        (f'{INFRA}/same-namespace-with-https-listener', 443, 'https'),
    ]
    cases = []
    assert len(tables) == len(targets), len(tables)
    for (gw, port, scheme), t in zip(targets, tables):
        for er in (t[1] if isinstance(t[1], list) else [t[1]]):
            c = generate.http_case(er, gw)
            c['port'] = port
            c['scheme'] = scheme
            cases.append(c)
    conds = []
    for e in events:
        if e[0] == 'accepted':
            for r in e[3]:
                conds.append({'route': r, 'parent': e[1], 'type': 'Accepted', 'status': 'True'})
    return {'conditions': conds, 'cases': cases,
            'note': 'The cases of the HTTPS listener (port 443) are sent as https requests whose TLS is terminated in front of the proxy.'}

MANUAL = {
    'GRPCExactMethodMatching': grpc_cases,
    'GRPCRouteHeaderMatching': grpc_cases,
    'GRPCRouteListenerHostnameMatching': grpc_cases,
    'GRPCRouteNamedRule': grpc_cases,
    'GRPCRouteWeight': lambda b, d: weights(b, d, grpc=True),
    'HTTPRouteWeight': weights,
    'HTTPRouteRequestHeaderModifierBackendWeights': backend_weights,
    'GatewayHTTPListenerIsolation': isolation,
    'HTTPRouteRedirectPortAndScheme': redirect_port_and_scheme,
}

CLIENTS = {
    'echo.MeshAppEchoV1': {'namespace': MESH, 'labels': {'app': 'echo', 'version': 'v1'}},
    'echo.MeshAppEchoV2': {'namespace': MESH, 'labels': {'app': 'echo', 'version': 'v2'}},
}

def mesh_test(block, doc):
    import generate
    # clients in order of ConnectToApp calls; cases tables in order
    clients = []
    for m in re.finditer(r'(\w+)\s*:=\s*echo\.ConnectToApp(InNamespace)?\(t,\s*s,\s*(echo\.\w+)(?:,\s*(suite\.\w+))?\)', block):
        c = dict(CLIENTS[m.group(3)])
        if m.group(4):
            c = dict(c, namespace=extract.CONST[m.group(4)])
        clients.append((m.group(1), c))
    env, events = walk.walk(block)
    tables = [e for e in events if e[0] == 'cases']
    # map table variable -> client by the `for ... range <table>` ... `<client>.Make...` pairs
    uses = re.findall(r'range (\w+) \{.*?(\w+)\.MakeRequestAndExpectEventuallyConsistentResponse', block, re.S)
    cases = []
    if 'expectedWeights' in block:
        w = {}
        m = re.search(r'expectedWeights\s*:=\s*map\[string\]float64\{(.*?)\n\t*\}', block, re.S)
        for k, v in re.findall(r'"([\w-]+)":\s*([0-9.]+)', m.group(1)):
            w[k] = float(v)
        env, events = walk.walk(block)
        first = next(e for e in events if e[0] == 'cases')
        er = first[1][0] if isinstance(first[1], list) else first[1]
        r = er.get('Request', {})
        req = {'host': r.get('Host') or 'echo', 'path': r.get('Path') or '/'}
        if r.get('Protocol'):
            req['protocol'] = r['Protocol']
        return {'mode': 'mesh', 'weights': [{'client': clients[0][1], 'request': req, 'expected': w, 'requests': 500, 'tolerance': 0.05}]}
    names = [u[0] for u in uses]
    table_vars = re.findall(r'(\w+)\s*:=\s*\[\]http\.ExpectedResponse\{', block)
    if not table_vars:
        # A literal passed straight to the client.
        for t in tables:
            for er in (t[1] if isinstance(t[1], list) else [t[1]]):
                c = generate.http_case(er)
                c['client'] = clients[0][1]
                cases.append(c)
        return {'cases': cases}
    # Tables in order; appended tables (`cases = append(cases, ...)`) extend the last one.
    for k, t in enumerate(tables):
        var = table_vars[min(k, len(table_vars) - 1)]
        client = clients[0][1]
        for tv, cv in uses:
            if tv == var:
                client = dict(clients)[cv]
        for er in (t[1] if isinstance(t[1], list) else [t[1]]):
            c = generate.http_case(er)
            c['client'] = client
            cases.append(c)
    return {'cases': cases}
