"""The shared (public schema) app: one row per tenant and its domains, as django-tenants wants."""
