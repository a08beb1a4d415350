"""The AI gateway's configuration (MLflow 3): provider secrets, model definitions, endpoints.

Every row belongs to a workspace, directly or through its endpoint. A secret's value is stored
only encrypted (`tracking.secrets`), with the id of the key that sealed it; what the API shows
of it is `masked_values`, computed when it is written.
"""

from __future__ import annotations

from django.db import models

from .experiments import Experiment
from .workspaces import Workspace


class _Audited(models.Model):
    """When a row was made and last changed, and by whom (as the client said)."""

    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    created_by = models.CharField(max_length=255, blank=True, default="")
    updated_by = models.CharField(max_length=255, blank=True, default="")

    class Meta:
        abstract = True


class GatewaySecret(_Audited):
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="gateway_secrets")
    secret_id = models.CharField(max_length=64, unique=True)
    name = models.CharField(max_length=255)
    provider = models.CharField(max_length=100, blank=True, default="")
    # The JSON object of the secret's fields, sealed by tracking.secrets; never shown.
    ciphertext = models.TextField()
    key_id = models.CharField(max_length=16)
    masked_values = models.JSONField(default=dict)
    auth_config = models.JSONField(null=True)

    class Meta(_Audited.Meta):
        constraints = [
            models.UniqueConstraint(fields=["workspace", "name"], name="gateway_secret_name_per_workspace")
        ]

    def __str__(self) -> str:
        return self.name


class GatewayModelDefinition(_Audited):
    workspace = models.ForeignKey(
        Workspace, on_delete=models.CASCADE, related_name="gateway_model_definitions"
    )
    model_definition_id = models.CharField(max_length=64, unique=True)
    name = models.CharField(max_length=255)
    # Deleting a secret leaves its definitions without one, as MLflow does: they need a new secret.
    secret = models.ForeignKey(
        GatewaySecret, on_delete=models.SET_NULL, null=True, related_name="model_definitions"
    )
    provider = models.CharField(max_length=100)
    model_name = models.CharField(max_length=500)

    class Meta(_Audited.Meta):
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "name"], name="gateway_model_definition_name_per_workspace"
            )
        ]

    def __str__(self) -> str:
        return self.name


class GatewayEndpoint(_Audited):
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="gateway_endpoints")
    endpoint_id = models.CharField(max_length=64, unique=True)
    name = models.CharField(max_length=255)
    routing_strategy = models.CharField(max_length=64, blank=True, default="")
    fallback_strategy = models.CharField(max_length=64, blank=True, default="")
    fallback_max_attempts = models.IntegerField(null=True)
    has_fallback_config = models.BooleanField(default=False)
    # Where the endpoint's usage traces go; the experiment may be deleted on its own.
    experiment = models.ForeignKey(Experiment, on_delete=models.SET_NULL, null=True, related_name="+")
    usage_tracking = models.BooleanField(default=True)

    class Meta(_Audited.Meta):
        constraints = [
            models.UniqueConstraint(fields=["workspace", "name"], name="gateway_endpoint_name_per_workspace")
        ]

    def __str__(self) -> str:
        return self.name


class GatewayEndpointModelMapping(models.Model):
    mapping_id = models.CharField(max_length=64, unique=True)
    endpoint = models.ForeignKey(GatewayEndpoint, on_delete=models.CASCADE, related_name="model_mappings")
    # A definition in use cannot be deleted (INVALID_STATE), as in MLflow.
    model_definition = models.ForeignKey(
        GatewayModelDefinition, on_delete=models.PROTECT, related_name="mappings"
    )
    linkage_type = models.CharField(max_length=16)
    weight = models.FloatField(null=True)
    fallback_order = models.IntegerField(null=True)
    created_at = models.DateTimeField()
    created_by = models.CharField(max_length=255, blank=True, default="")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["endpoint", "model_definition", "linkage_type"], name="gateway_mapping_once"
            )
        ]


class GatewayEndpointBinding(_Audited):
    endpoint = models.ForeignKey(GatewayEndpoint, on_delete=models.CASCADE, related_name="bindings")
    resource_type = models.CharField(max_length=64)
    resource_id = models.CharField(max_length=255)

    class Meta(_Audited.Meta):
        constraints = [
            models.UniqueConstraint(
                fields=["endpoint", "resource_type", "resource_id"], name="gateway_binding_once"
            )
        ]


class GatewayEndpointTag(models.Model):
    endpoint = models.ForeignKey(GatewayEndpoint, on_delete=models.CASCADE, related_name="tags")
    key = models.CharField(max_length=250)
    value = models.TextField(blank=True, default="")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["endpoint", "key"], name="gateway_endpoint_tag_key")]


class GatewayBudgetPolicy(_Audited):
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="gateway_budget_policies")
    budget_policy_id = models.CharField(max_length=64, unique=True)
    budget_unit = models.CharField(max_length=16)
    budget_amount = models.FloatField()
    duration_unit = models.CharField(max_length=16)
    duration_value = models.IntegerField()
    target_scope = models.CharField(max_length=16)
    # The endpoint id (ENDPOINT scope) or user name (USER scope) the policy applies to.
    target_value = models.CharField(max_length=255, null=True)
    budget_action = models.CharField(max_length=16)
