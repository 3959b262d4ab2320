"""Drives the Python `kubernetes` client against the lab's Kubernetes API test server.

Usage: client_check.py SERVICE_ACCOUNT_DIR HOST PORT NAMESPACE
Configures the client as in a pod (InClusterConfigLoader, which sends `bearer` in lowercase),
then prints one JSON document with what it saw; the Rust test asserts on it.
"""
import json
import sys

from kubernetes import client
from kubernetes.client.rest import ApiException
from kubernetes.config.incluster_config import InClusterConfigLoader

sa_dir, host, port, namespace = sys.argv[1:5]
InClusterConfigLoader(
    token_filename=f"{sa_dir}/token",
    cert_filename=f"{sa_dir}/ca.crt",
    environ={"KUBERNETES_SERVICE_HOST": host, "KUBERNETES_SERVICE_PORT": port},
).load_and_set()

result = {}
result["version"] = client.VersionApi().get_code().git_version
core = client.CoreV1Api()
secret = core.read_namespaced_secret("vm-key", namespace)
result["secret_data"] = secret.data
listed = core.list_namespaced_secret(namespace, label_selector="app=hook")
result["listed"] = [s.metadata.name for s in listed.items]
for name in ("missing", "other"):
    try:
        core.read_namespaced_secret(name, namespace)
        result[name] = "no error"
    except ApiException as error:
        body = json.loads(error.body)
        result[name] = {"status": error.status, "reason": body["reason"], "message": body["message"]}
event = client.CoreV1Event(
    metadata=client.V1ObjectMeta(name="hook-pod.py"),
    involved_object=client.V1ObjectReference(kind="Pod", name="hook-pod", namespace=namespace),
    reason="HookSucceeded",
    message="from python",
    type="Normal",
)
result["event"] = core.create_namespaced_event(namespace, event).metadata.namespace
print(json.dumps(result))
