#!/usr/bin/env python3
"""Checks that every relative link and image in README.md and docs/*.md points to an existing file, and that
every #anchor names a heading of its target (GitHub's heading ids). Prints each broken link; exit status 1 if any.
Run from anywhere: scripts/check-doc-links.py"""
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
LINK = re.compile(r'!?\[[^\]]*\]\(([^)\s]+)\)')


def slug(heading):
    s = heading.strip().lower()
    s = re.sub(r'[^\w\- ]', '', s)  # GitHub drops punctuation but keeps letters, digits, '_', '-' and spaces
    return s.replace(' ', '-')


def anchors(path):
    ids, seen, fence = set(), {}, False
    for line in path.read_text(encoding='utf-8').splitlines():
        if line.startswith('```'):
            fence = not fence
        m = None if fence else re.match(r'#{1,6} (.*)', line)
        if m:
            s = slug(m.group(1))
            n = seen.get(s, 0)
            seen[s] = n + 1
            ids.add(s if n == 0 else f'{s}-{n}')
    return ids


def main():
    files = [ROOT / 'README.md'] + sorted((ROOT / 'docs').glob('*.md'))
    bad = 0
    for f in files:
        text, fence = [], False
        for line in f.read_text(encoding='utf-8').splitlines():
            if line.startswith('```'):
                fence = not fence
            elif not fence:
                text.append(re.sub(r'`[^`]*`', '', line))
        for target in LINK.findall('\n'.join(text)):
            if re.match(r'[a-z]+:', target):
                continue  # http(s), mailto: not checked here
            path, _, anchor = target.partition('#')
            dest = (f.parent / path).resolve() if path else f
            where = f.relative_to(ROOT)
            if not dest.exists():
                print(f'{where}: {target}: no such file')
                bad += 1
            elif anchor and dest.suffix == '.md' and anchor not in anchors(dest):
                print(f'{where}: {target}: no such heading')
                bad += 1
    print(f'{len(files)} files checked, {bad} broken links')
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main())
