"""Invoking an AI gateway endpoint: MLflow's `/gateway/<endpoint>/mlflow/invocations` and its
OpenAI-style `/gateway/mlflow/v1/chat/completions` (the endpoint named by `model`).

Forwarding needs the provider's network, which this server does not use: it makes no outgoing
request to an LLM provider. So an invocation is checked as MLflow checks it (who may, which
workspace, that the endpoint exists, that the body is a chat or embeddings payload) and then
answers 502 TEMPORARILY_UNAVAILABLE naming the endpoint's provider. The answer never carries a
secret: the endpoint's secrets are not even opened.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from tracking.access import gate
from tracking.errors import InvalidParameterValue, MethodNotAllowed, MlflowError, ProviderUnreachable
from tracking.models import GatewayEndpoint
from tracking.queries import gateway as queries
from tracking.workspaces import resolve_workspace

from .protocol import read_json_body
from .responses import error_response

INVOKE = "mlflow.gateway.InvokeEndpoint"


def _endpoint(request: HttpRequest, workspace_name: str | None, endpoint_name: str) -> GatewayEndpoint:
    if request.method != "POST":
        error = MethodNotAllowed(f"Method {request.method} is not allowed on {request.path}.")
        error.allowed_methods = ["POST"]
        raise error
    principal = gate.authenticate(request)
    workspace = resolve_workspace(workspace_name or request.headers.get("X-Mlflow-Workspace"))
    gate.authorize_rpc(principal, workspace, INVOKE)
    if not endpoint_name:
        raise InvalidParameterValue("The request names no endpoint ('model').")
    return queries.get_endpoint(workspace, name=endpoint_name)


def unreachable(endpoint: GatewayEndpoint) -> ProviderUnreachable:
    providers = sorted({m.model_definition.provider for m in endpoint.model_mappings.all()})
    named = ", ".join(f"'{provider}'" for provider in providers) or "(none configured)"
    return ProviderUnreachable(
        f"Gateway endpoint '{endpoint.name}' cannot reach its provider {named}: this server makes no "
        "outgoing requests to LLM providers."
    )


@csrf_exempt
def invoke_endpoint(
    request: HttpRequest, endpoint_name: str, workspace_name: str | None = None
) -> HttpResponse:
    try:
        endpoint = _endpoint(request, workspace_name, endpoint_name)
        body = read_json_body(request)
        if "messages" not in body and "input" not in body:
            raise InvalidParameterValue("Invalid request: payload format must be either chat or embeddings")
        raise unreachable(endpoint)
    except MlflowError as error:
        return error_response(error)


@csrf_exempt
def chat_completions(request: HttpRequest, workspace_name: str | None = None) -> HttpResponse:
    try:
        body = read_json_body(request) if request.method == "POST" else {}
        model = body.get("model")
        endpoint = _endpoint(request, workspace_name, model if isinstance(model, str) else "")
        if "messages" not in body:
            raise InvalidParameterValue("Invalid chat payload: 'messages' is required")
        raise unreachable(endpoint)
    except MlflowError as error:
        return error_response(error)
