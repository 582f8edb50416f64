"""The ER diagram of the live schema (db.ops.schema.schema_graph) as Graphviz DOT and as Mermaid."""

from __future__ import annotations

from html import escape

from db.ops.schema import Relation, SchemaGraph

# One soft colour per schema, so a newcomer sees the domains at a glance.
PALETTE = ("#dbeafe", "#dcfce7", "#fef9c3", "#fce7f3", "#ede9fe", "#ffedd5", "#e0f2fe", "#f1f5f9")


def _port(column: str) -> str:
    return "c_" + "".join(ch if ch.isalnum() else "_" for ch in column)


def is_bookkeeping(relation: Relation) -> bool:
    """A "who did it" link (created_by, updated_by, granted_by… → users): on nearly every table,
    so drawing them all hides the model's own structure."""
    return len(relation.columns) == 1 and relation.columns[0].endswith("_by")


def to_dot(
    graph: SchemaGraph,
    *,
    schemas: list[str] | None = None,
    all_columns: bool = False,
    bookkeeping: bool = False,
) -> str:
    """Tables grouped by schema, keys marked, foreign keys as arrows from the referring column;
    the "who did it" links only when `bookkeeping` is asked for."""
    shown = {t: cols for t, cols in graph.tables.items() if schemas is None or t.split(".")[0] in schemas}
    relations = [r for r in graph.relations if bookkeeping or not is_bookkeeping(r)]
    hidden = {(r.table, r.columns[0]) for r in graph.relations if r not in relations}
    referenced = {(r.ref_table, c) for r in relations for c in r.ref_columns}
    colours = {s: PALETTE[i % len(PALETTE)] for i, s in enumerate(sorted({t.split(".")[0] for t in shown}))}
    lines = [
        "digraph schema {",
        '  graph [rankdir=LR, fontname="Helvetica", fontsize=11, nodesep=0.3, ranksep=0.9];',
        '  node [shape=plaintext, fontname="Helvetica", fontsize=10];',
        '  edge [color="#64748b", arrowsize=0.6];',
    ]
    for schema in sorted(colours):
        lines.append(f'  subgraph "cluster_{schema}" {{')
        lines.append(f'    label="{schema}"; style="rounded"; color="#94a3b8";')
        for table, columns in shown.items():
            if table.split(".")[0] != schema:
                continue
            rows = [f'<tr><td bgcolor="{colours[schema]}"><b>{escape(table.split(".", 1)[1])}</b></td></tr>']
            for column in columns:
                key = column.primary_key or column.foreign_key or (table, column.name) in referenced
                if not (all_columns or (key and (table, column.name) not in hidden)):
                    continue
                mark = "PK " if column.primary_key else ""
                mark += "FK " if column.foreign_key else ""
                nullable = "" if column.nullable else " not null"
                rows.append(
                    f'<tr><td port="{_port(column.name)}" align="left">{escape(mark)}'
                    f'{escape(column.name)} <font color="#64748b">{escape(column.type)}{nullable}</font>'
                    "</td></tr>"
                )
            label = '<table border="0" cellborder="1" cellspacing="0" cellpadding="3">' + "".join(rows)
            lines.append(f'    "{table}" [label=<{label}</table>>];')
        lines.append("  }")
    for relation in relations:
        if relation.table in shown and relation.ref_table in shown:
            source = f'"{relation.table}":{_port(relation.columns[0])}'
            target = f'"{relation.ref_table}":{_port(relation.ref_columns[0])}'
            lines.append(f'  {source} -> {target} [tooltip="{escape(relation.name)}"];')
    lines.append("}")
    return "\n".join(lines)


def to_mermaid(graph: SchemaGraph) -> str:
    """The same tables and keys as a Mermaid erDiagram, to paste into Markdown docs."""

    def name(table: str) -> str:
        return table.replace(".", "__")

    lines = ["erDiagram"]
    for table, columns in graph.tables.items():
        lines.append(f"    {name(table)} {{")
        for column in columns:
            keys = ",".join(k for k, on in (("PK", column.primary_key), ("FK", column.foreign_key)) if on)
            kind = "".join(ch if ch.isalnum() else "_" for ch in column.type.split("(")[0])
            lines.append(f"        {kind} {column.name}{' ' + keys if keys else ''}")
        lines.append("    }")
    for relation in graph.relations:
        lines.append(f'    {name(relation.ref_table)} ||--o{{ {name(relation.table)} : "{relation.name}"')
    return "\n".join(lines)
