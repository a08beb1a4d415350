from __future__ import annotations

from django.core.validators import RegexValidator
from django.db import models

# Names appear in tracking URIs (/ws/<name>/) and in storage paths, so they stay URL- and
# path-safe: lower-case letters, digits and dashes, like Azure's workspace names.
name_validator = RegexValidator(
    r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$",
    "Use 1-63 lower-case letters, digits or dashes, starting and ending with a letter or digit.",
)

DEFAULT_RESOURCE_GROUP = "default"
DEFAULT_WORKSPACE = "default"


class ResourceGroup(models.Model):
    """Holds workspaces and their storage; deleting one removes everything in it."""

    name = models.CharField(max_length=63, unique=True, validators=[name_validator])
    description = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Workspace(models.Model):
    """A tracking back end of its own: experiments, runs, artifacts and models, one URI."""

    resource_group = models.ForeignKey(ResourceGroup, on_delete=models.PROTECT, related_name="workspaces")
    name = models.CharField(max_length=63, unique=True, validators=[name_validator])
    description = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    # Experiment ids are numbered per workspace ("0" is each workspace's Default experiment),
    # so that one workspace's ids say nothing about another's.
    last_experiment_number = models.BigIntegerField(default=0)
    # Bytes of artifacts, measured by a worker now and then (walking the files is too slow for a page).
    storage_bytes = models.BigIntegerField(null=True)
    storage_measured_at = models.DateTimeField(null=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def is_default(self) -> bool:
        return self.name == DEFAULT_WORKSPACE
