"""db/ops/schema.py: the schema's revision and migration history; roles, memberships, constraints,
views and the table graph, from the catalog."""

from db.core import migrate
from db.ops import schema
from tests.conftest import acting


def test_schema_state_names_the_revision_and_every_step(conn, ops_user):
    with acting(conn, ops_user):
        state = schema.schema_state(conn)
    assert state.current == state.head == migrate.head_revision()
    upgrades = state.history[state.history.direction == "upgrade"]
    assert state.head in set(upgrades.version)


def test_roles_memberships_constraints_and_views_come_from_the_catalog(conn, ops_user):
    with acting(conn, None):
        conn.exec_driver_sql("create role ops_probe_group nologin")
        conn.exec_driver_sql("create role ops_probe_member login")
        conn.exec_driver_sql("grant ops_probe_group to ops_probe_member")
        conn.exec_driver_sql(
            "create table public.ops_parent (id int primary key);"
            " create table public.ops_child (id int primary key, parent_id int not null"
            "  constraint ops_child_parent_fk references public.ops_parent (id),"
            "  constraint ops_child_positive check (id > 0));"
            " create materialized view public.ops_matview as select count(*) from public.ops_child"
        )
    with acting(conn, ops_user):
        roles = schema.database_roles(conn).set_index("role")
        members = schema.role_memberships(conn)
        found = schema.constraints(conn)
        defined = schema.views(conn).set_index("view_name")
        graph = schema.schema_graph(conn)
    assert roles.loc["ops_probe_member", "can_login"] and roles.loc["ops_probe_member", "member_of"] == (
        "ops_probe_group"
    )
    assert ((members.role == "ops_probe_group") & (members.member == "ops_probe_member")).sum() == 1
    child = found[found.table_name == "ops_child"].set_index("constraint_name")
    assert child.loc["ops_child_parent_fk", "kind"] == "foreign key"
    assert child.loc["ops_child_positive", "definition"] == "CHECK ((id > 0))"
    assert "primary key" in set(child.kind)
    assert not found.table_name.str.contains("_default$|_p20", regex=True).any(), "no partition copies"
    assert {"active_documents", "pending_documents", "onboarding_project_summary"} <= set(defined.index)
    assert defined.loc["ops_matview", "kind"] == "materialized view"
    assert "public.ops_child" in graph.tables and "documents.documents" in graph.tables
    assert not any(t.endswith("_default") for t in graph.tables), "partitions fold into their table"
    fk = next(r for r in graph.relations if r.name == "ops_child_parent_fk")
    assert (fk.table, fk.columns, fk.ref_table, fk.ref_columns) == (
        "public.ops_child",
        ("parent_id",),
        "public.ops_parent",
        ("id",),
    )
    assert any(
        r.table == "documents.documents" and r.ref_table == "projects.projects" for r in graph.relations
    )
