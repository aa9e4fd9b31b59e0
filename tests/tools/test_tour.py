#!/usr/bin/env python3
"""docs/TOUR.md names real code: every `path` and `path:Symbol` in backticks exists (the
path in the repository, the symbol as a word in that file), and every `Suite.Test` named as
a test is a TEST/TEST_P in the test files. Run: test_tour.py [REPO]."""
import glob
import os
import re
import sys

REPO = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), '..', '..')
REPO = os.path.abspath(REPO)
REF = re.compile(r'^((?:rtmo|kernels|tests|tools|bench|weights|docs)/[\w./-]+?)(?::(\w+))?$')
TEST = re.compile(r'^([A-Z]\w+)\.([A-Z]\w+)$')


def main():
    text = open(os.path.join(REPO, 'docs', 'TOUR.md')).read()
    tokens = re.findall(r'`([^`\n]+)`', text)
    tests_src = ''.join(open(f).read() for f in glob.glob(os.path.join(REPO, 'tests', '**', '*.cc'),
                                                         recursive=True))
    errors, refs, test_refs = [], 0, 0
    for tok in tokens:
        tok = tok.strip()
        for part in tok.replace('(', ' ').replace(')', ' ').split():
            part = part.rstrip(',.')
            m = REF.match(part)
            if m:
                refs += 1
                path, sym = m.group(1), m.group(2)
                full = os.path.join(REPO, path)
                if not os.path.exists(full):
                    errors.append(f'{part}: no file {path}')
                elif sym and not re.search(r'\b%s\b' % re.escape(sym), open(full).read()):
                    errors.append(f'{part}: {path} has no symbol {sym}')
                continue
            t = TEST.match(part)
            if t:
                test_refs += 1
                suite, name = t.groups()
                if not re.search(r'TEST(?:_P|_F)?\(\s*%s\s*,\s*%s\s*\)' % (suite, name), tests_src):
                    errors.append(f'{part}: no test {suite}.{name} in tests/')
    if refs < 30:
        errors.append(f'only {refs} code references found: the tour parser is broken')
    for e in errors:
        print('TOUR.md:', e)
    print(f'test_tour: {refs} code references, {test_refs} test names checked, '
          f'{len(errors)} errors')
    return 1 if errors else 0


if __name__ == '__main__':
    sys.exit(main())
