"""dashboard/er_diagram.py: the live schema's graph (db.ops.schema.schema_graph) drawn as Graphviz
DOT, by schema, and as Mermaid."""

from db.ops import schema
from tests.conftest import acting


def test_the_er_diagram_draws_tables_keys_and_arrows(conn, ops_user):
    from dashboard.er_diagram import to_dot, to_mermaid

    with acting(conn, ops_user):
        graph = schema.schema_graph(conn)
    dot = to_dot(graph, schemas=["projects", "users"])
    assert dot.startswith("digraph") and 'subgraph "cluster_projects"' in dot
    assert '"projects.projects":c_owner_id -> "users.users":c_id' in dot
    assert "documents.documents" not in dot, "only the schemas asked for"
    assert "display_name" not in dot and "display_name" in to_dot(graph, schemas=["users"], all_columns=True)
    mermaid = to_mermaid(graph)
    assert mermaid.startswith("erDiagram") and "projects__projects ||--o{ documents__documents" in mermaid
