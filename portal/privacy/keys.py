"""Development only: the pseudonym key chain in ``var/dev-keys.json`` during a rotation.

The new chain is written to a pending file (mode 0600) before the database is re-keyed and moved over the key
file once the transaction has committed, so a crash in between never loses the key the database now needs
(it is then in ``dev-keys.json.pending``). Production keys live in the environment, never in a file of ours.
"""

import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path


@dataclass
class DevRotation:
    path: Path
    pending: Path
    new_key: bytes

    def commit(self) -> None:
        os.replace(self.pending, self.path)

    def discard(self) -> None:
        self.pending.unlink(missing_ok=True)


def prepare_dev_rotation(var_dir: Path) -> DevRotation:
    path = Path(var_dir) / "dev-keys.json"
    keys = json.loads(path.read_text())
    new_key = secrets.token_urlsafe(48)
    updated = {**keys, "pseudonym_key": new_key,
               "pseudonym_previous_keys": [*keys.get("pseudonym_previous_keys", []), keys["pseudonym_key"]]}
    pending = path.with_name(path.name + ".pending")
    descriptor = os.open(pending, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        json.dump(updated, handle)
    return DevRotation(path=path, pending=pending, new_key=new_key.encode())
