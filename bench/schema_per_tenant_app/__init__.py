"""The Django apps ``bench/schema_per_tenant.py`` measures: a shared app and an 18-model PMO app.

They are real packages because Django imports every installed app's ``models`` module by name.
"""
