"""kubeflow_training_operator_digest: what the role applied, as the cluster holds it, in one value.

`kubectl get -f MANIFEST -o json` gives one object or a List of them. The digest maps each
object (kind, namespace, name) to a sha256 of the object without what the cluster writes by
itself (status, resourceVersion, managedFields, generation): two digests differ exactly when an
apply created, deleted or changed something the manifest owns, which server-side apply's
"serverside-applied" output cannot tell.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

VOLATILE_METADATA = ("resourceVersion", "managedFields", "generation")


def _objects(doc: Any) -> list[dict[str, Any]]:
    if not isinstance(doc, dict) or not doc:
        return []
    if doc.get("kind") == "List":
        return [o for o in doc.get("items") or [] if isinstance(o, dict)]
    return [doc]


def digest(doc: Any) -> dict[str, str]:
    out: dict[str, str] = {}
    for obj in _objects(doc):
        meta = dict(obj.get("metadata") or {})
        key = "/".join(
            (str(obj.get("kind", "")), str(meta.get("namespace", "")), str(meta.get("name", "")))
        )
        for field in VOLATILE_METADATA:
            meta.pop(field, None)
        kept = {k: v for k, v in obj.items() if k not in ("status", "metadata")}
        kept["metadata"] = meta
        text = json.dumps(kept, sort_keys=True, separators=(",", ":"))
        out[key] = hashlib.sha256(text.encode()).hexdigest()
    return out


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"kubeflow_training_operator_digest": digest}
