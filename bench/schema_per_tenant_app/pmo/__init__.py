"""The tenant app: what a programme PMO keeps, as 18 ordinary Django models."""
