"""Provisioning runs (control plane): signups and offboarding requests become durable runs of
recorded steps, executed by the workers in ``provisioning/`` through the job queue."""
