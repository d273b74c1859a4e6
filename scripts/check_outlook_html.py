"""Check the HTML of .eml files with doiuse-email (the caniemail.com data).

    npm install --prefix .tools doiuse-email@0.4.1
    ftc-office preview tracker.xlsx --out review
    python scripts/check_outlook_html.py review/*.eml [--clients outlook.windows]

Prints each file's errors (features the clients do not support) and exits 1 when there is
any; warnings (partial support) are counted, not listed. Runs one node process for all files.
"""

from __future__ import annotations

import argparse
import email
import email.policy
import json
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOIUSE = ROOT / ".tools" / "node_modules" / "doiuse-email" / "index.js"
SCRIPT = """
import { readFileSync } from 'node:fs';
const { doIUseEmail } = await import(process.argv[1]);
const clients = process.argv[2].split(',');
const bodies = JSON.parse(readFileSync(0, 'utf8'));
const out = {};
for (const [name, html] of Object.entries(bodies)) {
  const r = doIUseEmail(html, { emailClients: clients });
  out[name] = { errors: r.errors ?? [], warnings: (r.warnings ?? []).length };
}
process.stdout.write(JSON.stringify(out));
"""


def html_body(path: Path) -> str:
    """The HTML part of an .eml file ("" when it has none)."""
    msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    part = msg.get_body(("html",))
    return str(part.get_content()) if part is not None else ""


def main() -> None:
    """Check every file given; exit 1 when doiuse-email reports an error."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--clients", default="outlook.windows",
                        help="comma-separated caniemail clients, e.g. outlook.windows,gmail.*")
    args = parser.parse_args()
    node = shutil.which("node")
    if node is None or not DOIUSE.is_file():
        sys.exit(f"{DOIUSE}: doiuse-email not found — install Node.js, then run "
                 "`npm install --prefix .tools doiuse-email@0.4.1` in the project folder")
    bodies = {str(p): html_body(p) for p in args.files if p.suffix.lower() == ".eml"}
    done = subprocess.run([node, "--input-type=module", "-e", SCRIPT, DOIUSE.as_uri(),
                           args.clients], input=json.dumps(bodies), capture_output=True,
                          text=True, check=True)
    failed = 0
    for name, result in json.loads(done.stdout).items():
        errors = sorted(set(result["errors"]))
        failed += bool(errors)
        print(f"{name}: {len(result['errors'])} error(s), {result['warnings']} warning(s)")
        for e in errors:
            print(f"  {e}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
