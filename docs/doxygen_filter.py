#!/usr/bin/env python3
"""Doxygen's INPUT_FILTER for the public headers (cmake/docs.cmake): the headers' comments
are plain `//`, as the project writes them; this turns them into what Doxygen reads, without
touching the files:
  - the contract that opens each header -> the file's documentation (\\file), verbatim;
  - a `// comment` line before a declaration -> `/// comment` (its brief);
  - a trailing `// comment` after a member -> `///< comment`;
  - specializations of std templates (std::hash) are left out.
Usage (by Doxygen): doxygen_filter.py <header>"""
import re
import sys


def escape(text):
    """`<stdexcept>` in a comment is text, not an HTML tag."""
    return text.replace("<", "\\<")


def main(path):
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    out = []
    i = 0
    contract = []
    while i < len(lines) and lines[i].startswith("//"):
        contract.append(lines[i][2:].removeprefix(" "))
        i += 1
    if contract:
        out += ["/** \\file", "\\verbatim"] + contract + ["\\endverbatim */"]
    hiding = False
    for line in lines[i:]:
        stripped = line.lstrip()
        if line.startswith("struct std::"):  # std::hash<...>: not the reference's business
            out.insert(len(out) - 1 if out and out[-1].startswith("template") else len(out),
                       "/** \\cond */")
            hiding = True
        if hiding and line == "};":
            out += [line, "/** \\endcond */"]
            hiding = False
        elif stripped.startswith("// clang-format") or stripped.startswith("// IWYU"):
            out.append(line)
        elif stripped.startswith("//") and not stripped.startswith("///"):
            out.append(escape(line.replace("//", "///", 1)))
        else:
            match = re.search(r"([;{,])\s+//(?!/) ?", line)
            if match:
                code, comment = line[:match.end(1)], line[match.end():]
                out.append(code + "  ///< " + escape(comment))
            else:
                out.append(line)
    sys.stdout.write("\n".join(out))


if __name__ == "__main__":
    main(sys.argv[1])
