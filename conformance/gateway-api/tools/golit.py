"""A small parser of Go composite literals, enough for the conformance tests' case tables."""
import re

TOKEN = re.compile(r'''
  (?P<ws>\s+|//[^\n]*|/\*.*?\*/)
 |(?P<str>"(?:[^"\\]|\\.)*"|`[^`]*`)
 |(?P<num>-?\d+(?:\.\d+)?)
 |(?P<ident>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
 |(?P<punct>\[\]|:=|[{}\[\]():,&*=+.])
''', re.S | re.X)

def tokenize(src):
    out = []
    pos = 0
    while pos < len(src):
        m = TOKEN.match(src, pos)
        if not m:
            out.append(('other', src[pos])); pos += 1; continue
        pos = m.end()
        kind = m.lastgroup
        if kind == 'ws': continue
        out.append((kind, m.group(kind)))
    return out

def go_string(tok):
    if tok.startswith('`'): return tok[1:-1]
    import json
    return json.loads(tok.replace("\\'", "'"))

class Ref:
    def __init__(self, name): self.name = name
    def __repr__(self): return f'Ref({self.name})'

class Call:
    def __init__(self, fn, args): self.fn, self.args = fn, args
    def __repr__(self): return f'Call({self.fn},{self.args})'

class Lit:
    def __init__(self, typ, items): self.typ, self.items = typ, items
    def __repr__(self): return f'Lit({self.typ},{self.items})'

class P:
    def __init__(self, toks, i=0): self.t, self.i = toks, i
    def peek(self, k=0): return self.t[self.i+k] if self.i+k < len(self.t) else ('eof', '')
    def next(self): tok = self.peek(); self.i += 1; return tok
    def expect(self, v):
        tok = self.next()
        assert tok[1] == v, (v, tok, self.t[self.i-5:self.i+5])
    def typ(self):
        # type expression before '{': []X, map[K]V, &X, *X, X
        parts = []
        while True:
            k, v = self.peek()
            if v in ('[]', '&', '*'): parts.append(v); self.next(); continue
            if v == 'map':
                self.next(); self.expect('['); kt = self.typ(); self.expect(']'); vt = self.typ()
                return ''.join(parts) + f'map[{kt}]{vt}'
            if k == 'ident': self.next(); parts.append(v); return ''.join(parts)
            return ''.join(parts)
    def value(self, elided=None):
        k, v = self.peek()
        if v == '{':  # elided type
            return self.body(elided)
        if k == 'str':
            self.next(); s = go_string(v)
            while self.peek()[1] == '+':
                self.next(); s += self.value()
            return s
        if k == 'num':
            self.next(); return float(v) if '.' in v else int(v)
        if v in ('&', '[]', '*', 'map') or k == 'ident':
            save = self.i
            if k == 'ident' and v in ('true', 'false'):
                self.next(); return v == 'true'
            if k == 'ident' and v == 'nil':
                self.next(); return None
            t = self.typ()
            if self.peek()[1] == '{':
                inner = None
                if t.startswith('[]'): inner = t[2:]
                elif t.startswith('map['): inner = t[t.index(']')+1:]
                lit = self.body(inner)
                lit.typ = t
                return lit
            if self.peek()[1] == '(':
                self.next(); args = []
                while self.peek()[1] != ')':
                    args.append(self.value())
                    while self.peek()[1] == '.': self.next()
                    if self.peek()[1] == ',': self.next()
                self.next()
                r = Call(t, args)
                while self.peek()[1] == '+':
                    self.next(); r = Call('+', [r, self.value()])
                return r
            r = Ref(t)
            while self.peek()[1] == '+':
                self.next(); r = Call('+', [r, self.value()])
            return r
        raise AssertionError(('value', self.peek(), self.t[self.i-8:self.i+8]))
    def body(self, elided):
        self.expect('{')
        items = []
        while self.peek()[1] != '}':
            # key: value or value
            save = self.i
            k, v = self.peek()
            if (k in ('ident', 'str') or v == '[') and self.peek(1)[1] == ':' :
                key = self.value() if k == 'str' else (self.next()[1])
                self.expect(':')
                items.append((key, self.value(elided=None)))
            else:
                val = self.value(elided)
                if isinstance(val, Lit) and val.typ is None: val.typ = elided
                items.append((None, val))
            if self.peek()[1] == ',': self.next()
        self.expect('}')
        return Lit(elided, items)

def find_literals(src, typename):
    """Every top-level composite literal of `typename` (or slices of it) in src, in order, with offsets."""
    toks = tokenize(src)
    out = []
    i = 0
    while i < len(toks):
        k, v = toks[i]
        if v in (typename, '[]'+typename) and i + 1 < len(toks) and toks[i+1][1] == '{' \
           and not (i > 0 and toks[i-1][1] in ('[]',)):
            p = P(toks, i)
            lit = p.value()
            out.append((i, lit))
            i = p.i
            continue
        if v == '[]' and i + 1 < len(toks) and toks[i+1][1] == typename and toks[i+2][1] == '{':
            p = P(toks, i)
            lit = p.value()
            out.append((i, lit))
            i = p.i
            continue
        i += 1
    return toks, out
