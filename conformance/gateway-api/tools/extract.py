import sys, os, re, json, yaml
from golit import *

CONST = {
 'confsuite.InfrastructureNamespace': 'gateway-conformance-infra',
 'suite.InfrastructureNamespace': 'gateway-conformance-infra',
 'confsuite.AppBackendNamespace': 'gateway-conformance-app-backend',
 'suite.AppBackendNamespace': 'gateway-conformance-app-backend',
 'confsuite.WebBackendNamespace': 'gateway-conformance-web-backend',
 'confsuite.InfraBackendServiceNameV1': 'infra-backend-v1',
 'confsuite.InfraBackendServiceNameV2': 'infra-backend-v2',
 'confsuite.InfraBackendServiceNameV3': 'infra-backend-v3',
 'confsuite.InfrastructureGatewayName': 'gateway-conformance-infra-test',
 'suite.InfrastructureGatewayName': 'gateway-conformance-infra-test',
 'suite.MeshNamespace': 'gateway-conformance-mesh',
 'confsuite.MeshNamespace': 'gateway-conformance-mesh',
 'suite.MeshConsumerNamespace': 'gateway-conformance-mesh-consumer',
 'confsuite.MeshConsumerNamespace': 'gateway-conformance-mesh-consumer',
}

def file_consts(src):
    env = dict(CONST)
    for m in re.finditer(r'\b(\w+)\s*(?::=|=)\s*("(?:[^"\\]|\\.)*"|[A-Za-z_.]+)\s*$', src, re.M):
        name, val = m.group(1), m.group(2)
        if val.startswith('"'): env[name] = json.loads(val)
        elif val in env: env[name] = env[val]
    for m in re.finditer(r'\b(\w+)\s*=\s*("(?:[^"\\]|\\.)*")', src):
        env.setdefault(m.group(1), json.loads(m.group(2)))
    # v1.Namespace(x)
    for m in re.finditer(r'\b(\w+)\s*:?=\s*v1\.Namespace\((\w+\.\w+)\)', src):
        env[m.group(1)] = CONST.get(m.group(2))
    return env

def resolve(v, env):
    if isinstance(v, Ref):
        if v.name in env: return env[v.name]
        raise KeyError(v.name)
    if isinstance(v, Call):
        if v.fn == '+': return resolve(v.args[0], env) + resolve(v.args[1], env)
        if v.fn in ('int32', 'int', 'int64', 'ptr.To', 'ptrTo', 'string', 'v1.Namespace', 'gatewayv1.Namespace', 'v1.ObjectName'):
            return resolve(v.args[0], env)
        if v.fn.endswith('Sprintf'):
            fmt = resolve(v.args[0], env); args = [resolve(a, env) for a in v.args[1:]]
            return fmt.replace('%s', '{}').replace('%d', '{}').format(*args)
        raise KeyError('call ' + v.fn)
    if isinstance(v, Lit):
        if v.typ and (v.typ.startswith('map[') or v.typ.startswith('[]') and False):
            pass
        if all(k is None for k, _ in v.items) and v.items:
            return [resolve(x, env) for _, x in v.items]
        if not v.items:
            return [] if (v.typ or '').startswith('[]') else {}
        return {k: resolve(x, env) for k, x in v.items}
    return v

def lower_keys(d):
    if isinstance(d, dict):
        return {k: lower_keys(v) for k, v in d.items()}
    if isinstance(d, list): return [lower_keys(x) for x in d]
    return d

def convert_http(er):
    """ExpectedResponse dict (Go field names) -> our case dict."""
    out = {}
    if 'TestCaseName' in er: out['name'] = er['TestCaseName']
    req = er.get('Request', {})
    r = {}
    for gk, k in [('Host','host'),('Method','method'),('Path','path'),('Headers','headers'),('Protocol','protocol'),('Body','body'),('UnfollowRedirect','unfollowRedirect'),('SNI','sni')]:
        if gk in req: r[k] = req[gk]
    out['request'] = r
    if 'BackendSetResponseHeaders' in er: out['backendSetResponseHeaders'] = er['BackendSetResponseHeaders']
    exp = {}
    resp = er.get('Response', {})
    codes = []
    if 'StatusCode' in resp: codes.append(resp['StatusCode'])
    for c in resp.get('StatusCodes', []):
        if c not in codes: codes.append(c)
    if codes: exp['status'] = codes
    for gk, k in [('Headers','headers'),('ValidHeaderValues','validHeaderValues'),('AbsentHeaders','absentHeaders'),('IgnoreWhitespace','ignoreWhitespace'),('Protocol','protocol')]:
        if gk in resp: exp.setdefault('response', {})[k] = resp[gk]
    if 'Backend' in er: exp['backend'] = er['Backend']
    if 'Namespace' in er: exp['namespace'] = er['Namespace']
    if 'ExpectedRequest' in er and er['ExpectedRequest'] is not None:
        e = er['ExpectedRequest']; ereq = {}
        inner = e.get('Request', {})
        for gk, k in [('Host','host'),('Method','method'),('Path','path'),('Headers','headers')]:
            if gk in inner: ereq[k] = inner[gk]
        if 'AbsentHeaders' in e: ereq['absentHeaders'] = e['AbsentHeaders']
        if 'HTTPPort' in e: ereq['httpPort'] = e['HTTPPort']
        exp['request'] = ereq
    if 'RedirectRequest' in er and er['RedirectRequest'] is not None:
        exp['redirect'] = {k.lower(): v for k, v in er['RedirectRequest'].items()}
    if 'MirroredTo' in er:
        mt = []
        for m in er['MirroredTo']:
            b = m.get('BackendRef', {})
            x = {'name': b.get('Name'), 'namespace': b.get('Namespace')}
            if 'Percent' in m: x['percent'] = m['Percent']
            mt.append(x)
        exp['mirroredTo'] = mt
    out['expect'] = exp
    return out

if __name__ == '__main__':
    path = sys.argv[1]
    src = open(path).read()
    env = file_consts(src)
    toks, lits = find_literals(src, 'http.ExpectedResponse')
    cases = []
    for idx, lit in lits:
        try:
            val = resolve(lit, env)
        except KeyError as e:
            print('UNRESOLVED', e, file=sys.stderr); continue
        vals = val if isinstance(val, list) else [val]
        for v in vals:
            cases.append(convert_http(v))
    print(yaml.safe_dump(cases, sort_keys=False, width=120))
