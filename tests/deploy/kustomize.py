"""A small renderer of the kustomize features deploy/kubernetes uses, for offline CI.

The `kustomize` binary is not in the package registries this project installs from, so
the tests render the overlays with this, and compare it with `kustomize build` (or
`kubectl kustomize`) wherever one is installed. Supported: `resources` (files and
directories), `namespace`, `configMapGenerator` and `secretGenerator` (`files`,
`literals`; with `disableNameSuffixHash: true` only), `images`, and `patches` that are
JSON 6902 operations (inline `patch` or `path`) on a `target` of kind, name (a regular
expression) and labelSelector (`key=value`, comma-separated). Anything else raises.
"""

from __future__ import annotations

import base64
import copy
import re
from pathlib import Path
from typing import Any

import yaml

Resource = dict[str, Any]

_KNOWN_FIELDS = {
    "apiVersion",
    "kind",
    "resources",
    "namespace",
    "configMapGenerator",
    "secretGenerator",
    "generatorOptions",
    "images",
    "patches",
}
# Kinds without a namespace among those the deployment uses.
_CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition"}


class KustomizeError(RuntimeError):
    pass


def build(directory: Path) -> list[Resource]:
    """The resources of the kustomization in `directory`, as `kustomize build` gives them."""
    kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text())
    unknown = set(kustomization) - _KNOWN_FIELDS
    if unknown:
        raise KustomizeError(f"{directory}: unsupported kustomization fields {sorted(unknown)}")
    resources: list[Resource] = []
    for entry in kustomization.get("resources", []):
        path = (directory / entry).resolve()
        if path.is_dir():
            resources += build(path)
        else:
            resources += [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
    resources += _generated(directory, kustomization)
    for patch in kustomization.get("patches", []):
        _apply_patch(directory, resources, patch)
    for image in kustomization.get("images", []):
        _set_image(resources, image)
    namespace = kustomization.get("namespace")
    if namespace:
        for resource in resources:
            if resource["kind"] not in _CLUSTER_SCOPED:
                resource.setdefault("metadata", {})["namespace"] = namespace
    _check_unique(directory, resources)
    return resources


def _generated(directory: Path, kustomization: dict[str, Any]) -> list[Resource]:
    options = kustomization.get("generatorOptions", {})
    generators = [("ConfigMap", spec) for spec in kustomization.get("configMapGenerator", [])] + [
        ("Secret", spec) for spec in kustomization.get("secretGenerator", [])
    ]
    if generators and not options.get("disableNameSuffixHash"):
        raise KustomizeError(f"{directory}: generators need disableNameSuffixHash: true here")
    made: list[Resource] = []
    for kind, spec in generators:
        unknown = set(spec) - {"name", "files", "literals", "type"}
        if unknown:
            raise KustomizeError(f"{directory}: unsupported generator fields {sorted(unknown)}")
        data: dict[str, str] = {}
        for literal in spec.get("literals", []):
            key, _, value = literal.partition("=")
            data[key] = value
        for file in spec.get("files", []):
            key, _, source = file.rpartition("=") if "=" in file else ("", "", file)
            data[key or Path(source).name] = (directory / source).read_text()
        resource: Resource = {
            "apiVersion": "v1",
            "kind": kind,
            "metadata": {"name": spec["name"]},
        }
        if kind == "Secret":
            resource["type"] = spec.get("type", "Opaque")
            resource["data"] = {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}
        else:
            resource["data"] = data
        made.append(resource)
    return made


def _matches(resource: Resource, target: dict[str, Any]) -> bool:
    unknown = set(target) - {"kind", "name", "labelSelector"}
    if unknown:
        raise KustomizeError(f"unsupported patch target fields {sorted(unknown)}")
    if "kind" in target and resource["kind"] != target["kind"]:
        return False
    if "name" in target and not re.fullmatch(target["name"], resource["metadata"]["name"]):
        return False
    labels = resource["metadata"].get("labels", {})
    for term in filter(None, target.get("labelSelector", "").split(",")):
        key, _, value = term.partition("=")
        if labels.get(key.strip()) != value.strip():
            return False
    return True


def _apply_patch(directory: Path, resources: list[Resource], patch: dict[str, Any]) -> None:
    text = patch.get("patch") or (directory / patch["path"]).read_text()
    operations = yaml.safe_load(text)
    if not isinstance(operations, list) or "target" not in patch:
        raise KustomizeError(f"{directory}: only JSON 6902 patches with a target are supported")
    hits = [resource for resource in resources if _matches(resource, patch["target"])]
    if not hits:
        raise KustomizeError(f"{directory}: patch target {patch['target']} matches nothing")
    for resource in hits:
        for operation in operations:
            _json_patch(resource, operation)


def _json_patch(document: Resource, operation: dict[str, Any]) -> None:
    *parents, last = [
        part.replace("~1", "/").replace("~0", "~") for part in operation["path"].split("/")[1:]
    ]
    node: Any = document
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    key: Any = int(last) if isinstance(node, list) and last != "-" else last
    op = operation["op"]
    if op == "remove":
        del node[key]
    elif op == "replace":
        node[key]  # noqa: B018 - replace needs the member to exist, as in RFC 6902
        node[key] = copy.deepcopy(operation["value"])
    elif op == "add":
        if isinstance(node, list):
            node.insert(len(node) if key == "-" else key, copy.deepcopy(operation["value"]))
        else:
            node[key] = copy.deepcopy(operation["value"])
    else:
        raise KustomizeError(f"unsupported JSON patch op {op!r}")


def _containers(resource: Resource) -> list[dict[str, Any]]:
    spec = resource.get("spec", {})
    pod = spec.get("jobTemplate", {}).get("spec", spec).get("template", {}).get("spec", {})
    return [*pod.get("initContainers", []), *pod.get("containers", [])]


def _set_image(resources: list[Resource], image: dict[str, str]) -> None:
    for resource in resources:
        for container in _containers(resource):
            name, tag = _split_image(container["image"])
            if name != image["name"]:
                continue
            name = image.get("newName", name)
            tag = image.get("newTag", tag)
            container["image"] = f"{name}:{tag}" if tag else name


def _split_image(image: str) -> tuple[str, str | None]:
    name, colon, tag = image.rpartition(":")
    if not colon or "/" in tag:
        return image, None
    return name, tag


def _check_unique(directory: Path, resources: list[Resource]) -> None:
    seen: set[tuple[str, str, str]] = set()
    for resource in resources:
        metadata = resource["metadata"]
        key = (resource["kind"], metadata.get("namespace", ""), metadata["name"])
        if key in seen:
            raise KustomizeError(f"{directory}: {key} is defined twice")
        seen.add(key)
