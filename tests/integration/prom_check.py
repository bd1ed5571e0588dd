"""A strict checker of the Prometheus text exposition format 0.0.4.

    python3 prom_check.py FILE    (or - for stdin)

Exits 0 when the text is valid, else prints "line N: what is wrong" and
exits 1.  Stricter than the scrapers on purpose: every sample belongs to a
family announced by exactly one HELP and one TYPE line (in that order,
before its samples); a family's samples are contiguous; counters end in
_total; names and label names are well formed; label values are quoted with
only \\\\, \\" and \\n escapes; no label repeats; no (name, labels) repeats;
values are floats Prometheus accepts; the text ends with a newline.
"""
import re
import sys

NAME = re.compile(r'[a-zA-Z_:][a-zA-Z0-9_:]*$')
LABEL = re.compile(r'[a-zA-Z_][a-zA-Z0-9_]*$')
VALUE = re.compile(r'([+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?|[+-]?Inf|NaN)$')
TYPES = {'counter', 'gauge', 'histogram', 'summary', 'untyped'}


def fail(n, why):
    print(f'line {n}: {why}')
    sys.exit(1)


def parse_labels(n, s):
    """s starts after '{'; returns (labels dict, rest after '}')."""
    labels = {}
    i = 0
    while True:
        if s[i:i + 1] == '}':
            return labels, s[i + 1:]
        m = re.match(r'([a-zA-Z_][a-zA-Z0-9_]*)="', s[i:])
        if not m:
            fail(n, f'bad label at: {s[i:]!r}')
        key = m.group(1)
        if key in labels:
            fail(n, f'label {key} repeats')
        i += m.end()
        val = []
        while True:
            if i >= len(s):
                fail(n, 'unterminated label value')
            c = s[i]
            if c == '\\':
                nxt = s[i + 1:i + 2]
                if nxt not in ('\\', '"', 'n'):
                    fail(n, f'bad escape \\{nxt} in a label value')
                val.append({'n': '\n'}.get(nxt, nxt))
                i += 2
            elif c == '"':
                i += 1
                break
            elif c == '\n':
                fail(n, 'newline in a label value')
            else:
                val.append(c)
                i += 1
        labels[key] = ''.join(val)
        if s[i:i + 1] == ',':
            i += 1
        elif s[i:i + 1] != '}':
            fail(n, f'expected , or }} after label {key}')


def main():
    text = sys.stdin.read() if sys.argv[1] == '-' else open(sys.argv[1]).read()
    if not text.endswith('\n'):
        fail(text.count('\n') + 1, 'the text must end with a newline')
    help_, type_, done, seen = {}, {}, set(), set()
    current = None
    for n, line in enumerate(text.split('\n')[:-1], 1):
        if line == '':
            fail(n, 'empty line')
        if line.startswith('#'):
            parts = line.split(' ', 3)
            if len(parts) >= 3 and parts[1] in ('HELP', 'TYPE'):
                name = parts[2]
                if not NAME.match(name):
                    fail(n, f'bad metric name {name!r}')
                if name in done or (current and name != current and name in help_):
                    fail(n, f'family {name} announced again')
                if parts[1] == 'HELP':
                    if name in help_:
                        fail(n, f'second HELP for {name}')
                    if len(parts) < 4 or not parts[3].strip():
                        fail(n, f'empty HELP for {name}')
                    help_[name] = parts[3]
                else:
                    if name not in help_:
                        fail(n, f'TYPE before HELP for {name}')
                    if name in type_:
                        fail(n, f'second TYPE for {name}')
                    if len(parts) != 4 or parts[3] not in TYPES:
                        fail(n, f'bad TYPE line {line!r}')
                    if parts[3] == 'counter' and not name.endswith('_total'):
                        fail(n, f'counter {name} must end in _total')
                    if parts[3] != 'counter' and name.endswith('_total'):
                        fail(n, f'{name} ends in _total but is a {parts[3]}')
                    type_[name] = parts[3]
                if current and current != name:
                    done.add(current)
                current = name
            continue
        m = re.match(r'([a-zA-Z_:][a-zA-Z0-9_:]*)(\{|\s)', line)
        if not m:
            fail(n, f'bad sample line {line!r}')
        name = m.group(1)
        rest = line[m.end():]
        labels = {}
        if m.group(2) == '{':
            labels, rest = parse_labels(n, rest)
            if not rest.startswith(' '):
                fail(n, 'expected a space after the labels')
            rest = rest[1:]
        fields = rest.split(' ')
        if len(fields) not in (1, 2) or not VALUE.match(fields[0]):
            fail(n, f'bad value in {line!r}')
        if len(fields) == 2 and not re.match(r'-?\d+$', fields[1]):
            fail(n, f'bad timestamp in {line!r}')
        if name != current or name not in type_:
            fail(n, f'sample of {name} outside its family (announce HELP and TYPE first, keep samples together)')
        if type_[name] == 'counter' and float(fields[0]) < 0:
            fail(n, f'negative counter {name}')
        key = (name, tuple(sorted(labels.items())))
        if key in seen:
            fail(n, f'duplicate sample {name}{labels}')
        seen.add(key)
    print(f'ok: {len(type_)} families, {len(seen)} samples')


main()
