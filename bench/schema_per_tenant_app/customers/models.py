"""Tenant and domain, the two models django-tenants keeps in the public schema."""

from django.db import models
from django_tenants.models import DomainMixin, TenantMixin


class Client(TenantMixin):
    """Saving a new client creates its schema and runs every tenant migration in it."""

    name = models.CharField(max_length=200)
    created_on = models.DateField(auto_now_add=True)

    auto_create_schema = True


class Domain(DomainMixin):
    pass
