"""The Kubernetes manifests in deploy/k8s, checked offline against the Kubernetes JSON schemas
(kubernetes-validate carries them) and for the promises the issue makes about them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kubernetes_validate  # type: ignore[import-untyped]
import pytest
import yaml  # type: ignore[import-untyped]

from addon.promote.config import load_config
from tests.conftest import ROOT

DEPLOY = ROOT / "deploy" / "k8s"
KUBERNETES = "1.33.0"
# CRDs: kubernetes-validate ships only the built-in kinds' schemas (checked below), so these are checked by hand.
CUSTOM_KINDS = {"ExternalSecret"}


def _documents() -> list[dict[str, Any]]:
    docs = []
    for path in sorted(DEPLOY.glob("*.yaml")):
        docs += [d for d in yaml.safe_load_all(path.read_text()) if d]
    return docs


def _by_kind(kind: str) -> list[dict[str, Any]]:
    return [d for d in _documents() if d["kind"] == kind]


def _cronjob(name: str) -> dict[str, Any]:
    return next(d for d in _by_kind("CronJob") if d["metadata"]["name"] == name)


def _container(cronjob: dict[str, Any]) -> dict[str, Any]:
    containers = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return dict(containers[0])


def _doc_id(doc: dict[str, Any]) -> str:
    return f"{doc['kind']}/{doc['metadata'].get('name') or doc['metadata']['generateName']}"


@pytest.mark.parametrize("doc", _documents(), ids=_doc_id)
def test_every_manifest_matches_the_kubernetes_schema_strictly(doc):
    if doc["kind"] in CUSTOM_KINDS:
        with pytest.raises(kubernetes_validate.SchemaNotFoundError):
            kubernetes_validate.validate(doc, KUBERNETES, strict=True)
        return
    kubernetes_validate.validate(doc, KUBERNETES, strict=True)


def test_a_schema_violation_is_caught():
    # The check above is real: a CronJob with a misspelt field fails it.
    cronjob = _cronjob("avatar-promoter")
    broken = {**cronjob, "spec": {**cronjob["spec"], "concurrencyPolicyy": "Forbid"}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES, strict=True)


def test_the_frontend_claim_is_nfs_fast_and_read_only_many():
    (claim,) = _by_kind("PersistentVolumeClaim")
    assert claim["metadata"]["name"] == "avatar-models"
    assert claim["spec"]["storageClassName"] == "nfs-fast"
    assert claim["spec"]["accessModes"] == ["ReadOnlyMany"]
    (volume,) = _by_kind("PersistentVolume")
    assert claim["spec"]["volumeName"] == volume["metadata"]["name"]
    assert volume["spec"]["nfs"]["path"] == "/avatar-models"


def test_the_promoter_cronjob_runs_promote_once_alone_with_its_config(tmp_path):
    cronjob = _cronjob("avatar-promoter")
    assert cronjob["spec"]["concurrencyPolicy"] == "Forbid"
    container = _container(cronjob)
    args = container["args"]
    assert args[0] == "promote" and "--once" in args
    config_path = Path(args[args.index("--config") + 1])
    (config_map,) = _by_kind("ConfigMap")
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    assert mounts[str(config_path.parent)] == "config"
    # The config it mounts is one the promoter accepts, feeding the NFS mount and the mirror.
    local = tmp_path / config_path.name
    local.write_text(config_map["data"][config_path.name])
    config = load_config(local)
    targets = {t.name: t for t in config.targets}
    assert targets["nfs"].remote in mounts
    assert targets["mirror"].s3
    # The largest JSON the promoter will parse (about 30 bytes of Python objects per byte of JSON) fits
    # the container's memory limit with room for the rest of the run.
    memory = container["resources"]["limits"]["memory"]
    assert memory.endswith("Gi"), memory
    largest = max(config.limits.max_json_chunk_bytes, config.limits.max_index_bytes)
    assert largest * 30 < int(memory[:-2]) * 2**30 * 0.6


def test_the_r2_cronjob_copies_immutably_and_never_syncs():
    container = _container(_cronjob("avatar-r2-copy"))
    script = " ".join(container["args"])
    assert "rclone copy --immutable --checksum" in script
    assert "sync" not in script.split() and "--delete" not in script
    assert "mirror:avatar-models r2:avatar-models" in script


def _secret_named(name: str) -> bool:
    return any(word in name.upper() for word in ("SECRET", "KEY", "TOKEN", "PASSWORD"))


def test_secrets_come_only_through_external_secrets():
    assert _by_kind("Secret") == []  # never a Secret with data in the repository
    targets = {e["spec"]["target"]["name"] for e in _by_kind("ExternalSecret")}
    for external in _by_kind("ExternalSecret"):
        assert external["apiVersion"].startswith("external-secrets.io/")
        assert external["spec"]["secretStoreRef"]["name"]
        assert all(item["remoteRef"]["key"] for item in external["spec"]["data"])
    for cronjob in _by_kind("CronJob"):
        container = _container(cronjob)
        assert not [e["name"] for e in container.get("env", []) if _secret_named(e["name"]) and "value" in e]
        refs = {s["secretRef"]["name"] for s in container.get("envFrom", [])}
        assert refs and refs <= targets, cronjob["metadata"]["name"]


def test_the_batch_job_gives_each_index_its_own_shard_of_as_many_as_it_completes():
    (job,) = _by_kind("Job")
    spec = job["spec"]
    assert spec["completionMode"] == "Indexed"
    assert spec["backoffLimitPerIndex"] >= 1 and spec["parallelism"] <= spec["completions"]
    pod = spec["template"]["spec"]
    assert pod["restartPolicy"] == "Never"  # what backoffLimitPerIndex and podFailurePolicy need
    (container,) = pod["containers"]
    env = {e["name"]: e for e in container["env"]}
    args = container["args"]
    assert args[0] == "batch" and "--json" in args
    assert args[args.index("--shard") + 1] == "$(JOB_COMPLETION_INDEX)/$(BATCH_SHARDS)"
    # Kubernetes expands $(VAR) only for variables the container's env defines: the index is defined there.
    index = env["JOB_COMPLETION_INDEX"]["valueFrom"]["fieldRef"]["fieldPath"]
    assert index == "metadata.annotations['batch.kubernetes.io/job-completion-index']"
    assert int(env["BATCH_SHARDS"]["value"]) == spec["completions"]
    assert args[args.index("--preset") + 1] == "$(BATCH_PRESET)" and env["BATCH_PRESET"]["value"]
    # A shard that finished with failed items is not retried (it would fail them again); usage errors stop all.
    rules = {r["action"]: r for r in spec["podFailurePolicy"]["rules"]}
    assert rules["FailIndex"]["onExitCodes"]["values"] == [1]
    assert rules["FailJob"]["onExitCodes"]["values"] == [2]
    assert container["resources"]["requests"]["cpu"] == "1"


def test_the_batch_job_reads_its_keys_only_from_an_external_secret():
    (job,) = _by_kind("Job")
    (container,) = job["spec"]["template"]["spec"]["containers"]
    targets = {e["spec"]["target"]["name"]: e for e in _by_kind("ExternalSecret")}
    assert not [e["name"] for e in container["env"] if _secret_named(e["name"]) and "value" in e]
    refs = [e["valueFrom"]["secretKeyRef"] for e in container["env"] if "secretKeyRef" in e.get("valueFrom", {})]
    assert {r["key"] for r in refs} == {"RCLONE_CONFIG_KASM_ACCESS_KEY_ID", "RCLONE_CONFIG_KASM_SECRET_ACCESS_KEY"}
    for ref in refs:
        assert ref["key"] in {d["secretKey"] for d in targets[ref["name"]]["spec"]["data"]}


def test_the_batch_image_pins_the_blender_and_add_on_the_tests_run_and_passes_hadolint():
    import subprocess
    import sys

    dockerfile = ROOT / "deploy" / "batch" / "Dockerfile"
    pinned = {line.strip() for line in (ROOT / "requirements.txt").read_text().splitlines()}
    installs = [word for word in dockerfile.read_text().split() if "==" in word]
    assert {w.split("==")[0] for w in installs} >= {"bpy", "bpy-vrm-format", "boto3", "meshopt", "pillow"}
    assert set(installs) <= pinned, set(installs) - pinned
    job_image = _by_kind("Job")[0]["spec"]["template"]["spec"]["containers"][0]["image"]
    assert job_image == "avatar-forge-batch:0.1.0" and job_image in dockerfile.read_text()
    hadolint = Path(sys.executable).parent / "hadolint"
    done = subprocess.run([str(hadolint), str(dockerfile)], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
