"""Walks a conformance test's Go source in order: variables, gateway acceptance calls,
route condition checks and ExpectedResponse literals."""
import sys
from golit import *
from extract import CONST, file_consts, resolve, convert_http

def nn(val):
    if isinstance(val, dict) and 'Name' in val:
        return f"{val.get('Namespace', '')}/{val['Name']}"
    return val

CONDS = {
 'v1.RouteConditionAccepted': 'Accepted', 'v1.RouteConditionResolvedRefs': 'ResolvedRefs',
 'gatewayv1.RouteConditionAccepted': 'Accepted', 'gatewayv1.RouteConditionResolvedRefs': 'ResolvedRefs',
 'metav1.ConditionFalse': 'False', 'metav1.ConditionTrue': 'True',
}

def walk(src, literal_types=('http.ExpectedResponse',)):
    env = file_consts(src)
    for k, v in CONDS.items(): env[k] = v
    toks = tokenize(src)
    events = []
    current_gw = None
    current_listener = None
    i = 0
    def parse_value(j):
        p = P(toks, j); v = p.value(); return v, p.i
    while i < len(toks):
        k, v = toks[i]
        # reason constants: v1.RouteReasonXxx -> Xxx
        # assignments
        if k == 'ident' and i + 1 < len(toks) and toks[i+1][1] in (':=', '=') and '.' not in v:
            try:
                val, j = parse_value(i + 2)
            except AssertionError:
                i += 1; continue
            try:
                r = resolve(val, env)
            except KeyError:
                r = None
            if r is not None:
                if isinstance(r, dict) and 'Name' in r and 'Namespace' in r:
                    env[v] = nn(r)
                elif isinstance(r, list) and r and isinstance(r[0], dict) and 'Name' in r[0] and 'Namespace' in r[0] and 'Request' not in r[0]:
                    env[v] = [nn(x) for x in r]
                else:
                    env[v] = r
            if isinstance(val, Call) and val.fn == 'append':
                # `cases = append(cases, []http.ExpectedResponse{...}...)`
                for a in val.args[1:]:
                    if isinstance(a, Lit) and (a.typ or '').endswith('ExpectedResponse'):
                        try:
                            events.append(('cases', resolve(a, env), current_gw, current_listener))
                        except KeyError as e:
                            events.append(('unresolved', str(e)))
                i = j; continue
            if isinstance(val, Call) and val.fn.endswith('MustBeAccepted'):
                pass  # handled below when we reach the call token
            else:
                if isinstance(val, Lit) and (val.typ or '').endswith('ExpectedResponse'):
                    events.append(('cases', r, current_gw, current_listener))
                    i = j; continue
        if k == 'ident' and v.endswith('MustBeAccepted') and i + 1 < len(toks) and toks[i+1][1] == '(':
            val, j = parse_value(i)
            args = val.args
            # find NewGatewayRef
            gw = None; listener = None; routes = []
            after = False
            for a in args:
                if isinstance(a, Call) and a.fn.endswith('NewGatewayRef'):
                    gw = resolve(a.args[0], env); after = True
                    if len(a.args) > 1: listener = resolve(a.args[1], env)
                    continue
                if after:
                    if isinstance(a, Ref) and a.name in env:
                        x = env[a.name]
                        if isinstance(x, list): routes.extend(x)
                        elif isinstance(x, str) and '/' in x: routes.append(x)
            current_gw, current_listener = gw, listener
            events.append(('accepted', gw, listener, routes))
            i = j; continue
        if k == 'ident' and v.endswith('HTTPRouteMustHaveResolvedRefsConditionsTrue'):
            val, j = parse_value(i)
            try:
                route = resolve(val.args[-2], env); gw = resolve(val.args[-1], env)
                events.append(('condition', route, gw, 'ResolvedRefs', 'True', ''))
            except KeyError:
                pass
            i = j; continue
        if k == 'ident' and v.endswith('HTTPRouteMustHaveCondition'):
            val, j = parse_value(i)
            try:
                route = resolve(val.args[-3], env); gw = resolve(val.args[-2], env)
                c = val.args[-1]
                c = env.get(c.name) if isinstance(c, Ref) else resolve_cond(c, env)
                events.append(('condition', route, gw, c['Type'], c['Status'], c.get('Reason', '')))
            except (KeyError, TypeError):
                pass
            i = j; continue
        if k == 'ident' and v in literal_types and i + 1 < len(toks) and toks[i+1][1] == '{':
            val, j = parse_value(i)
            try:
                r = resolve(val, env)
                events.append(('cases', [r], current_gw, current_listener))
            except KeyError as e:
                events.append(('unresolved', str(e)))
            i = j; continue
        i += 1
    return env, events

def resolve_cond(c, env):
    out = {}
    for k, v in c.items:
        if isinstance(v, Call): v = v.args[0]
        if isinstance(v, Ref):
            name = v.name
            out[k] = CONDS.get(name) or (name.split('Reason')[-1] if 'Reason' in name else name)
        else:
            out[k] = v
    return out
