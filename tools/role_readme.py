#!/usr/bin/env python
# Copyright: flatcar.fips contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Generate the variables section of a role's README.md from its meta/argument_specs.yml.

    python3 tools/role_readme.py roles/fips_mode            # rewrite the section in place
    python3 tools/role_readme.py roles/fips_mode --check    # exit 1 when README.md is stale

The section lies between the BEGIN/END markers below; the rest of the README is kept as written.
"""

import os
import re
import sys

import yaml

BEGIN = "<!-- BEGIN generated from meta/argument_specs.yml by tools/role_readme.py -->"
END = "<!-- END generated from meta/argument_specs.yml -->"


def markup(text):
    """Ansible doc markup to Markdown: C(x), V(x), O(x), RV(x), M(x) -> `x`; B(x) -> **x**."""
    text = re.sub(r"\b(?:C|V|RV|M)\(([^)]*)\)", r"`\1`", text)
    # O(fqcn#type:name) names another plugin's option: keep the option name
    text = re.sub(r"\bO\((?:[^)#]*#[^):]*:)?([^)]*)\)", r"`\1`", text)
    text = re.sub(r"\bB\(([^)]*)\)", r"**\1**", text)
    return " ".join(text.split())


def value(v):
    if v is None:
        return ""
    return "`%s`" % yaml.safe_dump(v, default_flow_style=True).strip().removesuffix("...").strip()


def render(spec):
    lines = [BEGIN, "", "| Variable | Type | Default | Description |", "|---|---|---|---|"]
    for name, opt in spec["options"].items():
        kind = opt.get("type", "str")
        if opt.get("elements"):
            kind += " of " + opt["elements"]
        if opt.get("choices"):
            kind += " (%s)" % ", ".join(str(c) for c in opt["choices"])
        desc = opt.get("description", "")
        desc = desc if isinstance(desc, list) else [desc]
        text = "<br>".join(markup(d).replace("|", "\\|") for d in desc)
        required = " **required**" if opt.get("required") else ""
        default = value(opt.get("default"))
        lines.append("| `%s` | %s%s | %s | %s |" % (name, kind, required, default, text))
    lines += ["", END]
    return "\n".join(lines)


def main(argv):
    role = argv[1]
    with open(os.path.join(role, "meta", "argument_specs.yml")) as f:
        spec = yaml.safe_load(f)["argument_specs"]["main"]
    readme = os.path.join(role, "README.md")
    with open(readme) as f:
        text = f.read()
    if BEGIN not in text or END not in text:
        sys.exit("%s lacks the markers %s ... %s" % (readme, BEGIN, END))
    start, end = text.index(BEGIN), text.index(END) + len(END)
    new = text[:start] + render(spec) + text[end:]
    if "--check" in argv:
        if new != text:
            sys.exit("%s is stale: run python3 tools/role_readme.py %s" % (readme, role))
        return
    with open(readme, "w") as f:
        f.write(new)


if __name__ == "__main__":
    main(sys.argv)
