#!/usr/bin/env python3
"""Cleans one raw corpus source into documents separated by one empty line (see fetch.sh).

usage: clean.py {kjv|web|sotu|moby} INPUT OUTPUT
"""
import glob
import json
import os
import re
import sys


def norm(text):
    text = text.replace("\r", "")
    text = re.sub(r"[ \t]+", " ", text)
    text = re.sub(r"\n{2,}", "\n", text)   # no empty lines inside a document
    return text.strip()


def kjv(path):
    # `bible` prints "Book N" heads, then "  V text" lines, blank lines between chapters.
    docs, cur = [], []
    for line in open(path, encoding="utf-8", errors="replace"):
        line = line.rstrip("\n")
        if not line.strip():
            continue
        m = re.match(r"^ +\d+ (.*)$", line)
        if m:
            cur.append(m.group(1).strip())
        else:  # chapter heading
            if cur:
                docs.append("\n".join(cur))
            cur = [line.strip()]
    if cur:
        docs.append("\n".join(cur))
    return docs


def web(path):
    # mod2imp: "$$$Book C:V" key lines followed by OSIS-tagged verse text. One document per chapter.
    docs, cur, chapter = [], [], None
    key = None
    for line in open(path, encoding="utf-8", errors="replace"):
        line = line.rstrip("\n")
        if line.startswith("$$$"):
            key = line[3:]
            m = re.match(r"^(.*) (\d+):(\d+)$", key)
            ch = (m.group(1), m.group(2)) if m else None
            if ch != chapter and cur:
                docs.append("\n".join(cur))
                cur = []
            chapter = ch
            continue
        if chapter is None or chapter[1] == "0":
            continue  # module and book front matter
        text = re.sub(r"<note[^>]*>.*?</note>", " ", line)  # drop footnotes
        text = re.sub(r"<(?:milestone|div|title|lb|chapter|verse)\b[^>]*>", " ", text)  # structural tags
        text = re.sub(r"<[^>]*>", "", text)  # inline word tags
        text = re.sub(r"\s+", " ", text)
        text = re.sub(r" ([,.;:!?’”)\]])", r"\1", text)
        text = re.sub(r"([“(\[]) ", r"\1", text).strip()
        if text:
            cur.append(text)
    if cur:
        docs.append("\n".join(cur))
    return docs


def sotu(path):
    docs = []
    for f in sorted(glob.glob(os.path.join(path, "*.json"))):
        d = json.load(open(f, encoding="utf-8"))
        docs.append(d["text"])
    return docs


def moby(path):
    files = glob.glob(os.path.join(path, "chapter_*.json")) + glob.glob(os.path.join(path, "epilogue.json"))

    def order(f):
        m = re.search(r"chapter_(\d+)\.json$", f)
        return (0, int(m.group(1))) if m else (1, f)

    docs = []
    for f in sorted(files, key=order):
        d = json.load(open(f, encoding="utf-8"))
        if not isinstance(d, dict) or "text" not in d:
            continue
        title = d.get("title", "")
        docs.append((title + "\n" if title else "") + d["text"])
    return docs


def main():
    kind, src, dst = sys.argv[1:4]
    docs = {"kjv": kjv, "web": web, "sotu": sotu, "moby": moby}[kind](src)
    docs = [norm(d) for d in docs]
    docs = [d for d in docs if d]
    if not docs:
        sys.exit(f"clean.py: no text found in {src}")
    tmp = dst + ".tmp"
    with open(tmp, "w", encoding="utf-8") as out:
        out.write("\n\n".join(docs) + "\n")
    os.replace(tmp, dst)
    print(f"{kind}: {len(docs)} documents, {os.path.getsize(dst)} bytes", file=sys.stderr)


if __name__ == "__main__":
    main()
