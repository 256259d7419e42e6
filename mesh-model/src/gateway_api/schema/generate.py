"""Extracts the validation schema of the Gateway API CRDs (experimental channel) into compact JSON."""
import json, sys, yaml
KEEP = ['type','required','enum','pattern','maxLength','minLength','maxItems','minItems','maximum','minimum',
        'maxProperties','default','format','x-kubernetes-list-type','x-kubernetes-list-map-keys','nullable']
def compact(s):
    out = {}
    for k in KEEP:
        if k in s: out[k] = s[k]
    if 'x-kubernetes-validations' in s:
        out['x-kubernetes-validations'] = [{k: r[k] for k in ('rule','message','fieldPath','reason') if k in r} for r in s['x-kubernetes-validations']]
    for k in ('anyOf','oneOf'):
        if k in s: out[k] = [compact(x) for x in s[k]]
    if 'not' in s: out['not'] = compact(s['not'])
    if 'properties' in s: out['properties'] = {k: compact(v) for k, v in s['properties'].items()}
    if 'items' in s: out['items'] = compact(s['items'])
    if isinstance(s.get('additionalProperties'), dict): out['additionalProperties'] = compact(s['additionalProperties'])
    return out
crd_dir = sys.argv[1]
for plural, kind in [('gateways','Gateway'),('gatewayclasses','GatewayClass'),('httproutes','HTTPRoute'),('grpcroutes','GRPCRoute'),('referencegrants','ReferenceGrant')]:
    d = yaml.safe_load(open(f'{crd_dir}/gateway.networking.k8s.io_{plural}.yaml'))
    versions = {}
    for v in d['spec']['versions']:
        if not v.get('served'): continue
        spec = compact(v['schema']['openAPIV3Schema']['properties']['spec'])
        req = v['schema']['openAPIV3Schema'].get('required', [])
        versions[v['name']] = {'spec': spec, 'specRequired': 'spec' in req}
    names = list(versions)
    first = versions[names[0]]
    for n in names[1:]:
        assert versions[n] == first, (kind, n)
    doc = {'kind': kind, 'versions': names, 'specRequired': first['specRequired'], 'spec': first['spec']}
    with open(f'{sys.argv[2]}/{plural}.json', 'w') as f:
        json.dump(doc, f, separators=(',', ':'), sort_keys=True)
        f.write('\n')
    print(kind, names)
