"""Row-level security: the SQL every workspace table gets, used by the migrations.

The policy reads the tenant list that :mod:`services.db.tenant_scope` sets per transaction with
``set_config('app.tenant_ids', …, true)``. Unset or empty means no rows at all.
"""

from __future__ import annotations

APP_ROLE = "pmo_app"
OWNER_ROLE = "pmo_owner"
POLICY = "tenant_isolation"

CREATE_TENANT_IDS_FUNCTION = """
CREATE OR REPLACE FUNCTION workspace.current_tenant_ids() RETURNS uuid[]
LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT coalesce(
    string_to_array(nullif(current_setting('app.tenant_ids', true), ''), ',')::uuid[],
    '{}'::uuid[])
$$
"""
DROP_TENANT_IDS_FUNCTION = "DROP FUNCTION IF EXISTS workspace.current_tenant_ids()"


def scope_statement(placeholder: str) -> str:
    """The statement that opens a tenant scope for one transaction (``placeholder``: the ids).

    It also asks for generic plans: under the policy the planner sees ``tenant_id = ANY(scope)``
    beside the query's own tenant filter, estimates one row, and would otherwise re-plan every
    prepared statement on every call (+40 % on a list page; see bench/rls_overhead.py).
    """
    return (
        f"SELECT set_config('app.tenant_ids', {placeholder}, true),"
        " set_config('plan_cache_mode', 'force_generic_plan', true)"
    )


def enable_statements(table: str) -> list[str]:
    """ENABLE + FORCE row-level security on ``workspace.<table>`` with the tenant policy."""
    qualified = f"workspace.{table}"
    check = "tenant_id = ANY (workspace.current_tenant_ids())"
    return [
        f"ALTER TABLE {qualified} ENABLE ROW LEVEL SECURITY",
        f"ALTER TABLE {qualified} FORCE ROW LEVEL SECURITY",
        f"CREATE POLICY {POLICY} ON {qualified} USING ({check}) WITH CHECK ({check})",
    ]


def disable_statements(table: str) -> list[str]:
    qualified = f"workspace.{table}"
    return [
        f"DROP POLICY IF EXISTS {POLICY} ON {qualified}",
        f"ALTER TABLE {qualified} NO FORCE ROW LEVEL SECURITY",
        f"ALTER TABLE {qualified} DISABLE ROW LEVEL SECURITY",
    ]
